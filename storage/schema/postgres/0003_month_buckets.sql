-- schema-version: 3
-- How many partitions (buckets) a seller's invoices of one month are spread over in Cassandra's
-- invoices_by_seller_month (bucket = a hash of the code modulo this count).
--
-- Options and why:
-- * Default 1: a seller issuing fewer than about 100,000 invoices a month fits one partition
--   (Cassandra's rule of thumb: under 100,000 rows and 100 MB a partition).
-- * Operators raise it for very large sellers (e.g. 16 for about 1.6 million a month). It may only
--   grow: readers scan buckets 0..n-1, which still covers every row written with a smaller n.
-- * At most 256, so a month's lookup never fans out to more partitions than that.

ALTER TABLE taxpayers
    ADD COLUMN month_buckets smallint NOT NULL DEFAULT 1
    CHECK (month_buckets BETWEEN 1 AND 256);
