// Command einvoice-example is an example client of the e-invoice authentication service, in Go
// with go-jose (JWS, JWK Sets, JWT) and gowebpki/jcs (RFC 8785):
//
//  1. it reproduces the test vectors (examples/vectors/) byte for byte: canonical bytes, hash,
//     the seller's detached JWS by Ed25519 and RS256, the authority token, a notice and its id;
//  2. it signs a fresh invoice for a registered seller, submits it, and verifies the authority's
//     token against the service's JWK Set.
//
// Configuration comes from the environment:
//
//	EINVOICE_URL              the service, e.g. http://127.0.0.1:8000
//	EINVOICE_API_KEY          a business API key of the seller
//	EINVOICE_SELLER_TAX_CODE  the seller, registered with the vectors' Ed25519 key (kid vector-ed25519)
//	EINVOICE_INVOICE_NUMBER   an invoice number (1-99999999) this seller has not used
//	EINVOICE_VECTORS          the vectors folder (default ../vectors)
//	EINVOICE_TOKEN_ISSUER     the tokens' iss (default https://einvoice.gdt.gov.vn)
//
// The last line of its output is one JSON object: {"vectors","code","invoice_hash","status"}.
// Any mismatch or refusal is printed to standard error, and the exit status is 1.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// vietnam is the zone of issue dates: an invoice's issued_date is a date in Vietnam (UTC+7, no
// daylight saving time), whatever the zone of the machine that signs it.
var vietnam = time.FixedZone("ICT", 7*60*60)

// Answer is the service's answer to a submission (201, or 200 for the same invoice sent again).
type Answer struct {
	Code            string `json:"code"`
	Coded           bool   `json:"coded"`
	AuthenticatedAt string `json:"authenticated_at"`
	InvoiceHash     string `json:"invoice_hash"`
	Token           string `json:"token"`
}

// Summary is the last line this program prints.
type Summary struct {
	Vectors     string `json:"vectors"`
	Code        string `json:"code"`
	InvoiceHash string `json:"invoice_hash"`
	Status      int    `json:"status"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run() error {
	vectorsDir := envOr("EINVOICE_VECTORS", "../vectors")
	if err := checkVectors(vectorsDir); err != nil {
		return fmt.Errorf("vectors: %w", err)
	}
	fmt.Println("vectors: every file reproduced byte for byte")

	service := strings.TrimRight(os.Getenv("EINVOICE_URL"), "/")
	apiKey := os.Getenv("EINVOICE_API_KEY")
	taxCode := os.Getenv("EINVOICE_SELLER_TAX_CODE")
	number, err := strconv.ParseInt(os.Getenv("EINVOICE_INVOICE_NUMBER"), 10, 64)
	if service == "" || apiKey == "" || taxCode == "" || err != nil {
		return errors.New("set EINVOICE_URL, EINVOICE_API_KEY, EINVOICE_SELLER_TAX_CODE and EINVOICE_INVOICE_NUMBER (an integer)")
	}

	// 1. The invoice: the vectors' one, for this seller, under this number, issued today.
	template, err := os.ReadFile(vectorsDir + "/invoice.json")
	if err != nil {
		return err
	}
	invoiceJSON, err := freshInvoice(template, taxCode, number, time.Now().In(vietnam))
	if err != nil {
		return err
	}

	// 2. Its canonical bytes, their hash, and the seller's detached signature over them.
	canonical, err := Canonicalize(invoiceJSON)
	if err != nil {
		return err
	}
	invoiceHash := Hash(canonical)
	pemBytes, err := os.ReadFile(vectorsDir + "/seller-ed25519.pem")
	if err != nil {
		return err
	}
	key, err := LoadPrivateKey(pemBytes)
	if err != nil {
		return err
	}
	signature, err := SignDetached(canonical, key, "vector-ed25519", jose.EdDSA)
	if err != nil {
		return err
	}

	// 3. Submit {"invoice", "signature"}. The invoice sent is the canonical bytes themselves, so
	// what the service canonicalises is certainly what was signed.
	body, err := json.Marshal(struct {
		Invoice   json.RawMessage `json:"invoice"`
		Signature string          `json:"signature"`
	}{canonical, signature})
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 30 * time.Second}
	status, answerBody, err := submit(client, service+"/v1/invoices", apiKey, body)
	if err != nil {
		return err
	}
	if status != http.StatusCreated && status != http.StatusOK {
		// Every refusal is {"errors": [{"code", "field", "message"}, ...]}, with every problem
		// found listed: docs/errors.md says what each code means and what to do.
		return fmt.Errorf("POST /v1/invoices answered %d: %s", status, answerBody)
	}
	var answer Answer
	if err := json.Unmarshal(answerBody, &answer); err != nil {
		return fmt.Errorf("POST /v1/invoices answered %d with %s: %w", status, answerBody, err)
	}
	if answer.InvoiceHash != invoiceHash {
		return fmt.Errorf("the service hashed the invoice as %s, this client as %s", answer.InvoiceHash, invoiceHash)
	}
	fmt.Printf("submitted: %d, code %s\n", status, answer.Code)

	// 4. Verify the token offline with the authority's published keys. A verifier would cache
	// the key set and fetch it again only for a kid it does not know (key rotation).
	keysJSON, err := get(client, service+"/.well-known/jwks.json")
	if err != nil {
		return err
	}
	keys, err := ParseKeySet(keysJSON)
	if err != nil {
		return fmt.Errorf("the JWK Set: %w", err)
	}
	token, err := VerifyToken(answer.Token, keys, envOr("EINVOICE_TOKEN_ISSUER", DefaultIssuer), time.Time{})
	if err != nil {
		return fmt.Errorf("the token: %w", err)
	}
	claims := token.Claims
	switch {
	case claims.Code != answer.Code:
		return fmt.Errorf("the token's code %s is not the answer's %s", claims.Code, answer.Code)
	case claims.InvoiceHash != invoiceHash:
		return fmt.Errorf("the token's invoice_hash %s is not this invoice's %s", claims.InvoiceHash, invoiceHash)
	case claims.SellerTaxCode != taxCode || claims.Number != number:
		return fmt.Errorf("the token names seller %s number %d", claims.SellerTaxCode, claims.Number)
	}
	fmt.Printf("token: verified with key %s, issued at %s\n",
		token.KeyID, token.Registered.IssuedAt.Time().UTC().Format(time.RFC3339))

	summary, err := json.Marshal(Summary{"ok", answer.Code, invoiceHash, status})
	if err != nil {
		return err
	}
	fmt.Println(string(summary))
	return nil
}

// freshInvoice is the template invoice for this seller, number and day. The template is decoded
// with json.Number for its numbers, so they are written back exactly as they were read (the
// money values are decimal strings anyway; `number`, and the lines' `no` and `nature`, are
// integers).
func freshInvoice(template []byte, taxCode string, number int64, now time.Time) ([]byte, error) {
	var invoice map[string]any
	if err := decodeJSON(template, &invoice); err != nil {
		return nil, fmt.Errorf("invoice.json: %w", err)
	}
	seller, ok := invoice["seller"].(map[string]any)
	symbol, ok2 := invoice["symbol"].(string)
	if !ok || !ok2 || len(symbol) != 6 {
		return nil, errors.New("invoice.json: no seller object or no symbol")
	}
	today := now.Format(time.DateOnly)
	seller["tax_code"] = taxCode
	invoice["number"] = json.Number(strconv.FormatInt(number, 10))
	invoice["issued_date"] = today
	// The symbol's second and third characters are the issue date's year (C26TAA: 2026).
	invoice["symbol"] = symbol[:1] + today[2:4] + symbol[3:]
	return json.Marshal(invoice)
}

// submit POSTs the submission, and sends the very same bytes again after a 503 or 429 (waiting as
// Retry-After says) or a lost connection: a submission is idempotent, the same invoice answering
// 200 with the same code and token, so a retry can never authenticate an invoice twice.
func submit(client *http.Client, url, apiKey string, body []byte) (int, []byte, error) {
	var lastErr error
	for attempt := 1; attempt <= 3; attempt++ {
		request, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		request.Header.Set("Authorization", "Bearer "+apiKey)
		request.Header.Set("Content-Type", "application/json")
		response, err := client.Do(request)
		if err == nil {
			answer, readErr := io.ReadAll(io.LimitReader(response.Body, 1<<20))
			response.Body.Close()
			if readErr == nil && response.StatusCode != http.StatusServiceUnavailable &&
				response.StatusCode != http.StatusTooManyRequests {
				return response.StatusCode, answer, nil
			}
			lastErr = fmt.Errorf("POST %s: %d %s %v", url, response.StatusCode, answer, readErr)
			wait, _ := strconv.Atoi(response.Header.Get("Retry-After"))
			time.Sleep(time.Duration(max(wait, 1)) * time.Second)
			continue
		}
		lastErr = err
		time.Sleep(time.Second)
	}
	return 0, nil, lastErr
}

func get(client *http.Client, url string) ([]byte, error) {
	response, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer response.Body.Close()
	data, err := io.ReadAll(io.LimitReader(response.Body, 1<<20))
	if err == nil && response.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %d %s", url, response.StatusCode, data)
	}
	return data, err
}

func envOr(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}
