import com.google.crypto.tink.subtle.Ed25519Sign;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSObject;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.Payload;
import com.nimbusds.jose.crypto.Ed25519Signer;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.OctetKeyPair;
import com.nimbusds.jose.jwk.source.ImmutableJWKSet;
import com.nimbusds.jose.proc.BadJOSEException;
import com.nimbusds.jose.proc.JWSVerificationKeySelector;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jose.util.JSONObjectUtils;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.proc.ConfigurableJWTProcessor;
import com.nimbusds.jwt.proc.DefaultJWTClaimsVerifier;
import com.nimbusds.jwt.proc.DefaultJWTProcessor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.interfaces.EdECPrivateKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.text.ParseException;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.erdtman.jcs.JsonCanonicalizer;

/**
 * The e-invoice protocol in Java: everything an accounting system needs besides HTTP. Copy this
 * class. Each method is one step of docs/integration.md, written with the libraries that Java
 * integrators already use:
 *
 * <ul>
 *   <li>nimbus-jose-jwt for JWS, JWK Sets and JWT verification (Ed25519 through Google Tink),
 *   <li>java-json-canonicalization for RFC 8785 (JCS),
 *   <li>the JDK for PEM keys, SHA-256 and SHA-1.
 * </ul>
 */
public final class Protocol {

    /** What every authority token's {@code iss} says: pin it when verifying. */
    public static final String ISSUER = "https://einvoice.gdt.gov.vn";

    /** The namespace of notice ids (UUID version 5), fixed by the service. */
    public static final UUID NOTICE_NAMESPACE =
            UUID.fromString("6f0c3a52-4d7e-5b1a-9c3e-04000000f404");

    /**
     * The algorithms the authority may sign tokens with (docs/signing.md, "Key ring"): ES256
     * today; PS256 or EdDSA after a key rotation, so a verifier that is to last accepts all three
     * and lets the JWK Set's {@code kid} choose the key. Never accept {@code none} or HMAC.
     */
    public static final Set<JWSAlgorithm> AUTHORITY_ALGORITHMS =
            Set.of(JWSAlgorithm.ES256, JWSAlgorithm.PS256, JWSAlgorithm.EdDSA);

    private Protocol() {}

    // --- 1. Canonical bytes and the invoice hash -------------------------------------------

    /**
     * RFC 8785 (JCS) bytes of a JSON text: members sorted by name, no whitespace, strings and
     * numbers written as ECMAScript does. This is what the seller signs and what the hash covers,
     * whatever order or spacing the JSON was written in.
     */
    public static byte[] canonicalBytes(String json) throws IOException {
        return new JsonCanonicalizer(json).getEncodedUTF8();
    }

    /**
     * RFC 8785 bytes of a parsed JSON object (as {@link JSONObjectUtils#parse} gives it and
     * {@link JSONObjectUtils#toJSONString} writes it: integers stay {@code Long}, so
     * {@code "number": 1234} stays {@code 1234}, never {@code 1234.0}).
     */
    public static byte[] canonicalBytes(Map<String, Object> json) throws IOException {
        return canonicalBytes(JSONObjectUtils.toJSONString(json));
    }

    /** SHA-256 of the canonical bytes, lower-case hex: the {@code invoice_hash}. */
    public static String sha256Hex(byte[] bytes) throws GeneralSecurityException {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    // --- 2. The seller's key and detached signature ----------------------------------------

    /**
     * A PKCS#8 private key ("-----BEGIN PRIVATE KEY-----", as OpenSSL and most HSM exports
     * write it), read by the JDK alone. {@code keyAlgorithm} is "Ed25519" or "RSA" (or "EC").
     */
    public static PrivateKey readPkcs8Pem(String pem, String keyAlgorithm)
            throws GeneralSecurityException {
        String base64 =
                pem.replace("-----BEGIN PRIVATE KEY-----", "")
                        .replace("-----END PRIVATE KEY-----", "");
        byte[] der = Base64.getMimeDecoder().decode(base64);
        return KeyFactory.getInstance(keyAlgorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
    }

    /**
     * The seller's Ed25519 key as a nimbus JWK. nimbus-jose-jwt signs Ed25519 with Google Tink,
     * which takes the key's 32-byte seed (RFC 8032's private key); the JDK reads the seed from
     * the PKCS#8 file, and Tink derives the public half ({@code x}) that a JWK must carry.
     */
    public static OctetKeyPair ed25519Jwk(PrivateKey key, String kid)
            throws GeneralSecurityException {
        byte[] seed = ((EdECPrivateKey) key).getBytes().orElseThrow();
        byte[] publicKey = Ed25519Sign.KeyPair.newKeyPairFromSeed(seed).getPublicKey();
        return new OctetKeyPair.Builder(Curve.Ed25519, Base64URL.encode(publicKey))
                .d(Base64URL.encode(seed))
                .keyID(kid)
                .build();
    }

    /** A signer for EdDSA (an Ed25519 key) or RS256 (an RSA key of at least 2048 bits). */
    public static JWSSigner signer(PrivateKey key, String kid)
            throws GeneralSecurityException, JOSEException {
        if (key instanceof EdECPrivateKey) {
            return new Ed25519Signer(ed25519Jwk(key, kid));
        }
        return new RSASSASigner(key);
    }

    /**
     * The seller's signature: a detached JWS (RFC 7515, appendix F) over the canonical bytes,
     * {@code BASE64URL(header) + ".." + BASE64URL(signature)}, the protected header holding only
     * {@code alg} and {@code kid} (the kid the key was registered under). Send it beside the
     * invoice; the service rebuilds the payload from the invoice it receives.
     *
     * <p>{@code "alg":"EdDSA"} is the name the vectors' key was registered with (RFC 9864's
     * {@code Ed25519}, nimbus's {@code JWSAlgorithm.Ed25519}, is accepted too). Add nothing else to
     * the header: {@code b64}, {@code crit} and certificate chains are refused.
     */
    public static String signDetached(
            byte[] canonical, JWSAlgorithm alg, String kid, JWSSigner signer)
            throws JOSEException, IOException, ParseException {
        JWSHeader header = new JWSHeader.Builder(alg).keyID(kid).build();
        // nimbus writes the header's members in an order of its own ({"kid":...,"alg":...} in
        // 10.10). The service takes any order (it verifies the header bytes it was sent), but
        // the test vectors, like most JOSE libraries, have {"alg":...,"kid":...}. So the header
        // is written in its RFC 8785 form (members sorted: alg before kid), and nimbus is given
        // those bytes to sign as they are: a header parsed from base64url keeps its bytes. The
        // signature then no longer depends on how a nimbus version orders its members.
        header = JWSHeader.parse(Base64URL.encode(canonicalBytes(header.toJSONObject())));
        JWSObject jws = new JWSObject(header, new Payload(canonical));
        jws.sign(signer);
        return jws.serialize(true); // true: detached, the payload part left empty
    }

    // --- 3. The authority's token ------------------------------------------------------------

    /**
     * Verifies an authority token against the JWK Set the service publishes at
     * {@code /.well-known/jwks.json} (fetch it once and cache it; re-fetch when a token names a
     * kid it does not have) and returns its claims: the signature by a key of the set, an
     * allowed algorithm, {@code typ} JWT, and {@code iss} equal to {@link #ISSUER}. Tokens have
     * no {@code exp} on purpose (they prove a fact that stays true; docs/signing.md), so none is
     * required. Then compare {@code code} and {@code invoice_hash} with what you expect.
     */
    public static JWTClaimsSet verifyToken(String token, JWKSet authorityKeys)
            throws ParseException, BadJOSEException, JOSEException {
        ConfigurableJWTProcessor<SecurityContext> processor = new DefaultJWTProcessor<>();
        processor.setJWSKeySelector(
                new JWSVerificationKeySelector<>(
                        AUTHORITY_ALGORITHMS, new ImmutableJWKSet<>(authorityKeys)));
        processor.setJWTClaimsSetVerifier(
                new DefaultJWTClaimsVerifier<>(
                        new JWTClaimsSet.Builder().issuer(ISSUER).build(),
                        Set.of("code", "invoice_hash", "seller_tax_code", "iat")));
        return processor.process(token, null);
    }

    // --- 4. Notices (Form 04/SS-HĐĐT) ----------------------------------------------------------

    /**
     * The id the service gives a notice: the UUID version 5 of
     * {@code "<seller tax code>:<notice hash>"} in {@link #NOTICE_NAMESPACE}. The JDK has only
     * version 3 ({@code UUID.nameUUIDFromBytes}, MD5), so here is version 5 by RFC 4122 4.3:
     * SHA-1 of the namespace's 16 bytes and the name's UTF-8, cut to 16 bytes, version and variant
     * set.
     */
    public static UUID noticeId(String sellerTaxCode, String noticeHash)
            throws GeneralSecurityException {
        MessageDigest sha1 = MessageDigest.getInstance("SHA-1");
        sha1.update(
                ByteBuffer.allocate(16)
                        .putLong(NOTICE_NAMESPACE.getMostSignificantBits())
                        .putLong(NOTICE_NAMESPACE.getLeastSignificantBits())
                        .array());
        byte[] hash =
                sha1.digest((sellerTaxCode + ":" + noticeHash).getBytes(StandardCharsets.UTF_8));
        hash[6] = (byte) ((hash[6] & 0x0f) | 0x50); // version 5
        hash[8] = (byte) ((hash[8] & 0x3f) | 0x80); // variant RFC 4122
        ByteBuffer bytes = ByteBuffer.wrap(hash, 0, 16);
        return new UUID(bytes.getLong(), bytes.getLong());
    }
}
