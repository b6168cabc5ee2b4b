"""The national invoice XML (HDon): reading it safely, and its fields as the invoice model."""
