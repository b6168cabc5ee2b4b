package main

// The protocol itself, in four functions an integrator can copy as they are:
//
//	Canonicalize  the RFC 8785 (JCS) bytes of a JSON value: what the seller signs
//	Hash          SHA-256 of those bytes in lower-case hex: the invoice_hash the service answers
//	SignDetached  the seller's detached JWS over those bytes (RFC 7515, appendix F)
//	VerifyToken   the authority's token checked against its published JWK Set
//
// Nothing here talks to the network: main.go does.

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/gowebpki/jcs"
)

// DefaultIssuer is the `iss` of every authority token: the authority's public base URL.
const DefaultIssuer = "https://einvoice.gdt.gov.vn"

// AuthorityAlgorithms are the algorithms an authority key may sign tokens with (ES256 by
// default; EdDSA and PS256 for Ed25519 and RSA keys). Anything else is refused before any
// signature is checked, as go-jose requires a list.
var AuthorityAlgorithms = []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.PS256}

// Canonicalize returns the RFC 8785 bytes of the JSON text given: members sorted by name, no
// whitespace, strings and numbers written as ECMAScript's JSON.stringify writes them. Sign and
// hash exactly these bytes, and send exactly the JSON value they came from (sending the canonical
// bytes themselves is simplest): the service canonicalises what it receives and checks the
// signature against that. jcs also refuses a member name repeated in one object, as the service
// does (422 DUPLICATE_MEMBER).
func Canonicalize(jsonText []byte) ([]byte, error) {
	return jcs.Transform(jsonText)
}

// Hash is the invoice_hash of canonical bytes: SHA-256, lower-case hex.
func Hash(canonical []byte) string {
	sum := sha256.Sum256(canonical)
	return hex.EncodeToString(sum[:])
}

// LoadPrivateKey reads an unencrypted PKCS#8 PEM private key (Ed25519, RSA or P-256).
func LoadPrivateKey(pemBytes []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("not a PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----)")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("a %T cannot sign", key)
	}
	return signer, nil
}

// SignDetached returns the seller's detached compact JWS over the canonical bytes:
//
//	BASE64URL(header) + ".." + BASE64URL(signature)
//
// where the signature covers BASE64URL(header) + "." + BASE64URL(canonical), and the protected
// header is {"alg":...,"kid":...}. go-jose writes that header itself: `alg` from the
// SigningKey, `kid` from the JSONWebKey's KeyID, members sorted by name (its JSON encoder sorts
// map keys), so the bytes are the test vectors' exactly. Do not add `b64: false` (RFC 7797), `crit`
// or an embedded `jwk` (SignerOptions.EmbedJWK leaves `kid` out): the service refuses the first
// two and needs `kid` to find the seller's registered key. `typ` is tolerated but not needed.
//
// alg is jose.EdDSA for an Ed25519 key, jose.RS256 or jose.PS256 for RSA (2048 bits or more),
// jose.ES256 for P-256: the algorithm the key was registered with under this kid.
func SignDetached(canonical []byte, key crypto.Signer, kid string, alg jose.SignatureAlgorithm) (string, error) {
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		nil,
	)
	if err != nil {
		return "", err
	}
	signed, err := signer.Sign(canonical)
	if err != nil {
		return "", err
	}
	// The payload part is left empty: the canonical invoice travels beside the JWS, as the
	// submission's "invoice" member.
	return signed.DetachedCompactSerialize()
}

// VerifyDetached checks a detached JWS over the canonical bytes with a public key (a JWK, or
// the key itself): what the service does with the seller's registered key.
func VerifyDetached(signature string, canonical []byte, key any, alg jose.SignatureAlgorithm) error {
	parsed, err := jose.ParseDetached(signature, canonical, []jose.SignatureAlgorithm{alg})
	if err != nil {
		return err
	}
	_, err = parsed.Verify(key)
	return err
}

// TokenClaims are the authority token's own claims, beside the registered ones (`iss`, `iat`)
// that jwt.Claims holds. Amounts are decimal strings, as in the invoice.
type TokenClaims struct {
	Code          string `json:"code"`
	SellerTaxCode string `json:"seller_tax_code"`
	Template      string `json:"template"`
	Symbol        string `json:"symbol"`
	Number        int64  `json:"number"`
	IssuedDate    string `json:"issued_date"`
	TotalPayable  string `json:"total_payable"`
	TaxAmount     string `json:"tax_amount"`
	InvoiceHash   string `json:"invoice_hash"`
	Coded         bool   `json:"coded"`
}

// VerifiedToken is what a token says once its signature and issuer are checked.
type VerifiedToken struct {
	KeyID      string // the authority key that signed it
	Registered jwt.Claims
	Claims     TokenClaims
	// All the claims, as parsed JSON, for comparing or keeping.
	All map[string]any
}

// VerifyToken checks an authority token (a compact JWS, ES256 by default) against the JWK Set
// the service publishes at /.well-known/jwks.json: the key is the one the token's `kid` names,
// `iss` must be the issuer expected, and `iat` not in the future (with go-jose's default one
// minute of leeway; `at` is the time to check at, the zero time meaning now). Tokens have no
// `exp`, on purpose: they prove what was authenticated when, and that stays true.
func VerifyToken(token string, keys *jose.JSONWebKeySet, issuer string, at time.Time) (*VerifiedToken, error) {
	parsed, err := jwt.ParseSigned(token, AuthorityAlgorithms)
	if err != nil {
		return nil, err
	}
	verified := VerifiedToken{KeyID: parsed.Headers[0].KeyID}
	// Claims verifies the signature with the key set's key named by the header's kid, then
	// decodes the payload into each value given.
	if err := parsed.Claims(keys, &verified.Registered, &verified.Claims, &verified.All); err != nil {
		return nil, err
	}
	if err := verified.Registered.Validate(jwt.Expected{Issuer: issuer, Time: at}); err != nil {
		return nil, err
	}
	return &verified, nil
}

// ParseKeySet reads a JWK Set. go-jose also checks each key's x5c certificate (the service's
// key set carries one per key) against the key itself.
func ParseKeySet(data []byte) (*jose.JSONWebKeySet, error) {
	var keys jose.JSONWebKeySet
	if err := json.Unmarshal(data, &keys); err != nil {
		return nil, err
	}
	return &keys, nil
}

// decodeJSON parses JSON keeping numbers as json.Number (their text), so that an integer such as
// the invoice's `number` is written back exactly as it came, never through a float64.
func decodeJSON(data []byte, out any) error {
	decoder := json.NewDecoder(bytes.NewReader(data))
	decoder.UseNumber()
	if err := decoder.Decode(out); err != nil {
		return err
	}
	if decoder.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}
