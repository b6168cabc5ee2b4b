import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.OctetKeyPair;
import com.nimbusds.jose.proc.BadJOSEException;
import com.nimbusds.jose.util.JSONObjectUtils;
import com.nimbusds.jwt.JWTClaimsSet;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.time.Duration;
import java.time.LocalDate;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The Java example client (examples/java/README.md): reproduces the test vectors byte for byte,
 * then signs a fresh invoice, submits it and verifies the authority's token against the
 * service's JWK Set. Its last line of output is one JSON object: {"vectors": "ok", "code",
 * "invoice_hash", "status": 201}.
 *
 * <p>Environment: EINVOICE_URL (the service), EINVOICE_API_KEY (a business client of the
 * seller), EINVOICE_SELLER_TAX_CODE (a seller registered with the vectors' Ed25519 public key under
 * kid "vector-ed25519"), EINVOICE_INVOICE_NUMBER (a number the seller has not used),
 * EINVOICE_VECTORS (the examples/vectors folder).
 */
public final class Main {

    /** Invoice dates are dates in Vietnam: the service checks the issue date there. */
    static final ZoneId VIETNAM = ZoneId.of("Asia/Ho_Chi_Minh");

    static final String ED25519_KID = "vector-ed25519";
    static final String RS256_KID = "vector-rs256";

    public static void main(String[] args) throws Exception {
        try {
            Path vectors = Path.of(env("EINVOICE_VECTORS"));
            List<String> mismatches = checkVectors(vectors);
            if (!mismatches.isEmpty()) {
                mismatches.forEach(m -> System.out.println("vector mismatch: " + m));
                System.exit(1);
            }
            System.out.println("vectors: every file reproduced byte for byte");

            Map<String, Object> summary = submit(vectors);
            System.out.println(JSONObjectUtils.toJSONString(summary));
        } catch (Failure failure) {
            System.err.println("error: " + failure.getMessage());
            System.exit(1);
        }
    }

    /** What went wrong, said in one line; the client then exits with status 1. */
    static final class Failure extends Exception {
        private static final long serialVersionUID = 1L;

        Failure(String message) {
            super(message);
        }
    }

    // --- The test vectors ----------------------------------------------------------------------

    /** Every check of examples/vectors/; an empty list when all of them hold. */
    static List<String> checkVectors(Path dir) throws Exception {
        Checks checks = new Checks(dir);

        // The invoice: canonical bytes, hash, and the seller's signature by each algorithm.
        byte[] canonical = Protocol.canonicalBytes(checks.read("invoice.json"));
        checks.bytes("invoice.canonical.json", canonical);
        checks.text("invoice.sha256", Protocol.sha256Hex(canonical));

        PrivateKey ed25519 =
                Protocol.readPkcs8Pem(checks.read("seller-ed25519.pem"), "Ed25519");
        // The public key derived from the private one is the JWK the seller registered.
        OctetKeyPair publicJwk = Protocol.ed25519Jwk(ed25519, ED25519_KID).toPublicJWK();
        checks.equal(
                "seller-ed25519.jwk.json (x)",
                JSONObjectUtils.parse(checks.read("seller-ed25519.jwk.json")).get("x"),
                publicJwk.getX().toString());
        checks.text(
                "invoice.signature-ed25519.jws",
                Protocol.signDetached(
                        canonical,
                        JWSAlgorithm.EdDSA,
                        ED25519_KID,
                        Protocol.signer(ed25519, ED25519_KID)));

        PrivateKey rsa = Protocol.readPkcs8Pem(checks.read("seller-rs256.pem"), "RSA");
        checks.text(
                "invoice.signature-rs256.jws",
                Protocol.signDetached(
                        canonical, JWSAlgorithm.RS256, RS256_KID, Protocol.signer(rsa, RS256_KID)));

        // The authority's token: it verifies with the published key set, and says what the
        // claims file says (compared as parsed JSON: member order aside, equal values).
        try {
            JWTClaimsSet claims =
                    Protocol.verifyToken(
                            checks.read("token.jws").strip(),
                            JWKSet.parse(checks.read("authority.jwks.json")));
            checks.equal(
                    "token.claims.json",
                    JSONObjectUtils.parse(checks.read("token.claims.json")),
                    claims.toJSONObject());
            checks.equal("token.jws (iss)", Protocol.ISSUER, claims.getIssuer());
        } catch (BadJOSEException | JOSEException e) {
            checks.mismatches.add("token.jws: does not verify: " + e.getMessage());
        }

        // The notice: canonical bytes, hash, the id the service derives, the signature.
        byte[] notice = Protocol.canonicalBytes(checks.read("notice.json"));
        checks.bytes("notice.canonical.json", notice);
        String noticeHash = Protocol.sha256Hex(notice);
        checks.text("notice.sha256", noticeHash);
        String seller =
                (String) JSONObjectUtils.parse(checks.read("notice.json")).get("seller_tax_code");
        checks.text("notice.id", Protocol.noticeId(seller, noticeHash).toString());
        checks.text(
                "notice.signature-ed25519.jws",
                Protocol.signDetached(
                        notice,
                        JWSAlgorithm.EdDSA,
                        ED25519_KID,
                        Protocol.signer(ed25519, ED25519_KID)));
        return checks.mismatches;
    }

    /** Compares what this client computes with the vectors' files, collecting mismatches. */
    static final class Checks {
        final Path dir;
        final List<String> mismatches = new ArrayList<>();

        Checks(Path dir) {
            this.dir = dir;
        }

        String read(String name) throws Exception {
            return Files.readString(dir.resolve(name));
        }

        /** A file that is exactly these bytes (the canonical forms: no trailing newline). */
        void bytes(String name, byte[] computed) throws Exception {
            if (!Arrays.equals(Files.readAllBytes(dir.resolve(name)), computed)) {
                mismatches.add(name + ": the computed bytes differ");
            }
        }

        /** A one-line file (a hash, an id, a JWS), its final newline aside. */
        void text(String name, String computed) throws Exception {
            equal(name, read(name).strip(), computed);
        }

        void equal(String what, Object expected, Object computed) {
            if (!Objects.equals(expected, computed)) {
                mismatches.add(what + ": expected " + expected + ", computed " + computed);
            }
        }
    }

    // --- A fresh invoice, submitted --------------------------------------------------------------

    /** Signs and submits the vectors' invoice as a new one of this seller; verifies the token. */
    static Map<String, Object> submit(Path vectors) throws Exception {
        String service = env("EINVOICE_URL").replaceAll("/+$", "");
        String apiKey = env("EINVOICE_API_KEY");
        String sellerTaxCode = env("EINVOICE_SELLER_TAX_CODE");
        long number = Long.parseLong(env("EINVOICE_INVOICE_NUMBER"));

        // The invoice as accounting software builds it: this seller, an unused number (a JSON
        // integer: Long here), issued today in Vietnam. Amounts stay decimal strings.
        Map<String, Object> invoice =
                JSONObjectUtils.parse(Files.readString(vectors.resolve("invoice.json")));
        JSONObjectUtils.getJSONObject(invoice, "seller").put("tax_code", sellerTaxCode);
        invoice.put("number", number);
        String issuedDate = LocalDate.now(VIETNAM).toString();
        invoice.put("issued_date", issuedDate);
        // The symbol's two digits are the issue date's year (C26TAA: 2026): they follow the date.
        String symbol = (String) invoice.get("symbol");
        invoice.put("symbol", symbol.charAt(0) + issuedDate.substring(2, 4) + symbol.substring(3));

        // Sign the canonical bytes with the key registered under the kid.
        byte[] canonical = Protocol.canonicalBytes(invoice);
        String invoiceHash = Protocol.sha256Hex(canonical);
        PrivateKey key =
                Protocol.readPkcs8Pem(
                        Files.readString(vectors.resolve("seller-ed25519.pem")), "Ed25519");
        String signature =
                Protocol.signDetached(
                        canonical,
                        JWSAlgorithm.EdDSA,
                        ED25519_KID,
                        Protocol.signer(key, ED25519_KID));

        // POST /v1/invoices {"invoice", "signature"}. The invoice may be sent in any member
        // order or spacing: the service canonicalises what it receives and checks the signature
        // over that. 201: authenticated now; 200: the same invoice again (safe to retry after a
        // lost answer or a 503); 409: another invoice under this number; 422: every problem.
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("invoice", invoice);
        body.put("signature", signature);
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        HttpResponse<String> answer =
                http.send(
                        HttpRequest.newBuilder(URI.create(service + "/v1/invoices"))
                                .timeout(Duration.ofSeconds(30))
                                .header("Authorization", "Bearer " + apiKey)
                                .header("Content-Type", "application/json")
                                .POST(BodyPublishers.ofString(JSONObjectUtils.toJSONString(body)))
                                .build(),
                        BodyHandlers.ofString());
        // A fresh invoice gets 201. Real software would take a 200 (a retry that had already
        // succeeded) as success too, and retry a 429 or 503 after Retry-After with the same body.
        if (answer.statusCode() != 201) {
            throw new Failure(
                    "POST /v1/invoices answered " + answer.statusCode() + ": " + answer.body());
        }
        Map<String, Object> authenticated = JSONObjectUtils.parse(answer.body());
        String code = JSONObjectUtils.getString(authenticated, "code");
        String token = JSONObjectUtils.getString(authenticated, "token");
        System.out.println("submitted: 201, code " + code);

        // Verify the token offline with the service's published keys (cache them in real
        // software, and fetch them again when a token names a kid the cached set lacks).
        URI jwksUri = URI.create(service + "/.well-known/jwks.json");
        HttpResponse<String> jwks =
                http.send(
                        HttpRequest.newBuilder(jwksUri).timeout(Duration.ofSeconds(30)).build(),
                        BodyHandlers.ofString());
        if (jwks.statusCode() != 200) {
            throw new Failure("GET " + jwksUri + " answered " + jwks.statusCode());
        }
        JWTClaimsSet claims;
        try {
            claims = Protocol.verifyToken(token, JWKSet.parse(jwks.body()));
        } catch (BadJOSEException | JOSEException e) {
            throw new Failure("the token does not verify with " + jwksUri + ": " + e.getMessage());
        }
        // The token is for this invoice: the code answered, this seller, and the hash of the
        // very bytes we signed.
        Map<String, Object> expected =
                Map.of("code", code, "seller_tax_code", sellerTaxCode, "invoice_hash", invoiceHash);
        for (Map.Entry<String, Object> claim : expected.entrySet()) {
            Object actual = claims.getClaim(claim.getKey());
            if (!claim.getValue().equals(actual)) {
                throw new Failure(
                        "the token's " + claim.getKey() + " is " + actual + ", not "
                                + claim.getValue());
            }
        }
        if (!invoiceHash.equals(authenticated.get("invoice_hash"))) {
            throw new Failure("the service's invoice_hash is not ours: " + answer.body());
        }
        System.out.println("token verified against " + jwksUri);

        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("vectors", "ok");
        summary.put("code", code);
        summary.put("invoice_hash", invoiceHash);
        summary.put("status", answer.statusCode());
        return summary;
    }

    static String env(String name) throws Failure {
        String value = System.getenv(name);
        if (value == null || value.isEmpty()) {
            throw new Failure(name + " is not set");
        }
        return value;
    }
}
