package main

// Reproducing the test vectors (examples/vectors/) byte for byte: if every check here passes,
// this code canonicalises, hashes, signs and verifies as the service does. Ed25519 and RS256
// (RSA PKCS#1 v1.5) signatures are deterministic, so they can be compared as bytes; ES256 ones
// (the authority's token) can only be verified.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
)

// noticeNamespace is the UUID namespace of notice ids: a notice's id is the UUID 5 (SHA-1) of
// "<seller tax code>:<notice hash>" in it, so the same notice always has the same id.
var noticeNamespace = uuid.MustParse("6f0c3a52-4d7e-5b1a-9c3e-04000000f404")

// vectors reads files from the vectors folder; the first problem met is kept in err, so each
// check reads as one line.
type vectors struct {
	dir string
	err error
}

// bytes is a file as it is (the canonical files end without a newline).
func (v *vectors) bytes(name string) []byte {
	if v.err != nil {
		return nil
	}
	data, err := os.ReadFile(filepath.Join(v.dir, name))
	if err != nil {
		v.err = err
	}
	return data
}

// text is a one-line file without its final newline (hashes, ids, JWS).
func (v *vectors) text(name string) string {
	return strings.TrimRight(string(v.bytes(name)), "\n")
}

func (v *vectors) fail(format string, args ...any) {
	if v.err == nil {
		v.err = fmt.Errorf(format, args...)
	}
}

func (v *vectors) check(what string, got, want any) {
	if v.err == nil && !reflect.DeepEqual(got, want) {
		v.fail("%s differs from the vector:\n  got  %v\n  want %v", what, got, want)
	}
}

func (v *vectors) ok(what string, err error) {
	if err != nil {
		v.fail("%s: %w", what, err)
	}
}

// checkVectors reproduces every vector, and says which one differs first.
func checkVectors(dir string) error {
	v := &vectors{dir: dir}

	// The invoice: canonical bytes, then their hash.
	canonical, err := Canonicalize(v.bytes("invoice.json"))
	v.ok("canonicalising invoice.json", err)
	v.check("invoice.canonical.json", string(canonical), string(v.bytes("invoice.canonical.json")))
	v.check("invoice.sha256", Hash(canonical), v.text("invoice.sha256"))

	// The seller's signature by each deterministic algorithm, checked as bytes, then verified
	// with the public JWK the seller registers.
	for _, seller := range []struct {
		name, kid string
		alg       jose.SignatureAlgorithm
	}{
		{"ed25519", "vector-ed25519", jose.EdDSA},
		{"rs256", "vector-rs256", jose.RS256},
	} {
		key, err := LoadPrivateKey(v.bytes("seller-" + seller.name + ".pem"))
		v.ok("seller-"+seller.name+".pem", err)
		if v.err != nil {
			break
		}
		signature, err := SignDetached(canonical, key, seller.kid, seller.alg)
		v.ok("signing with seller-"+seller.name+".pem", err)
		v.check("invoice.signature-"+seller.name+".jws", signature, v.text("invoice.signature-"+seller.name+".jws"))
		var public jose.JSONWebKey
		v.ok("seller-"+seller.name+".jwk.json", public.UnmarshalJSON(v.bytes("seller-"+seller.name+".jwk.json")))
		v.ok("verifying invoice.signature-"+seller.name+".jws", VerifyDetached(signature, canonical, &public, seller.alg))
	}

	// The authority's token: verified with the key set, claims as given, issuer pinned. The
	// vectors' token was issued at 2026-11-30T03:04:05Z: check it as of then.
	keys, err := ParseKeySet(v.bytes("authority.jwks.json"))
	v.ok("authority.jwks.json", err)
	if v.err == nil {
		token, err := VerifyToken(v.text("token.jws"), keys, DefaultIssuer, time.Date(2026, 11, 30, 3, 4, 5, 0, time.UTC))
		v.ok("verifying token.jws with authority.jwks.json", err)
		var want map[string]any
		v.ok("token.claims.json", json.Unmarshal(v.bytes("token.claims.json"), &want))
		if token != nil {
			v.check("the claims of token.jws (token.claims.json)", token.All, want)
			v.check("the token's invoice_hash", token.Claims.InvoiceHash, Hash(canonical))
		}
	}

	// The notice: canonical bytes, hash, id, and the seller's signature over it.
	notice, err := Canonicalize(v.bytes("notice.json"))
	v.ok("canonicalising notice.json", err)
	v.check("notice.canonical.json", string(notice), string(v.bytes("notice.canonical.json")))
	noticeHash := Hash(notice)
	v.check("notice.sha256", noticeHash, v.text("notice.sha256"))
	var fields struct {
		SellerTaxCode string `json:"seller_tax_code"`
	}
	v.ok("notice.json", json.Unmarshal(notice, &fields))
	id := uuid.NewSHA1(noticeNamespace, []byte(fields.SellerTaxCode+":"+noticeHash))
	v.check("notice.id", id.String(), v.text("notice.id"))
	key, err := LoadPrivateKey(v.bytes("seller-ed25519.pem"))
	v.ok("seller-ed25519.pem", err)
	if v.err == nil {
		signature, err := SignDetached(notice, key, "vector-ed25519", jose.EdDSA)
		v.ok("signing the notice", err)
		v.check("notice.signature-ed25519.jws", signature, v.text("notice.signature-ed25519.jws"))
	}

	return v.err
}
