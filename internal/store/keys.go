package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// API key roles.
const (
	RoleCounty   = "county"
	RoleState    = "state"
	RoleOperator = "operator"
)

// ErrBadKey is returned for a key that is malformed, unknown or revoked. Callers answer 401
// without saying which.
var ErrBadKey = errors.New("invalid or revoked API key")

// APIKey is a stored key, without its secret.
type APIKey struct {
	ID        int64
	Prefix    string
	Role      string
	State     string // for county and state keys
	County    string // for county keys
	Label     string
	CreatedAt time.Time
	RevokedAt *time.Time
	// SignedIn, on an operator who signed in with the county's identity provider instead of
	// sending a key, names that person ("oidc:<subject> <email>"); such a caller has no
	// stored key, and its Prefix is empty.
	SignedIn string
}

// Actor names the key in the audit log; it never reveals the secret. A signed-in operator
// is named by SignedIn.
func (k APIKey) Actor() string {
	if k.SignedIn != "" {
		return k.SignedIn
	}
	return "key:" + k.Prefix
}

var lowerBase32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// APIKeyCreate stores a new key and returns it with its one-time plaintext
// "bf_<prefix>_<secret>". Only the SHA-256 of the secret is stored: the secret is 256 random
// bits, so a slow password hash would add nothing.
func (s *Store) APIKeyCreate(ctx context.Context, k APIKey, actor string) (APIKey, string, error) {
	switch k.Role {
	case RoleCounty:
		if k.State == "" || k.County == "" {
			return APIKey{}, "", errors.New("a county key needs a state and a county")
		}
	case RoleState:
		if k.State == "" || k.County != "" {
			return APIKey{}, "", errors.New("a state key needs a state and no county")
		}
	case RoleOperator:
	default:
		return APIKey{}, "", fmt.Errorf("unknown role %q (want county, state or operator)", k.Role)
	}
	var prefixBytes [5]byte
	var secret [32]byte
	if _, err := rand.Read(prefixBytes[:]); err != nil {
		return APIKey{}, "", err
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return APIKey{}, "", err
	}
	k.Prefix = strings.ToLower(lowerBase32.EncodeToString(prefixBytes[:]))
	secretText := base64.RawURLEncoding.EncodeToString(secret[:])
	hash := sha256.Sum256([]byte(secretText))
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if k.Role != RoleOperator {
			var known bool
			q := `SELECT EXISTS (SELECT 1 FROM jurisdictions WHERE state = $1 AND ($2 = '' OR county = $2))`
			if err := tx.QueryRow(ctx, q, k.State, k.County).Scan(&known); err != nil {
				return err
			}
			if !known {
				return fmt.Errorf("no jurisdiction %s %s is configured", k.State, k.County)
			}
		}
		err := tx.QueryRow(ctx, `
			INSERT INTO api_keys (prefix, secret_hash, role, state, county, label)
			VALUES ($1, $2, $3, NULLIF($4, ''), NULLIF($5, ''), $6) RETURNING id, created_at`,
			k.Prefix, hash[:], k.Role, k.State, k.County, k.Label).Scan(&k.ID, &k.CreatedAt)
		if err != nil {
			return fmt.Errorf("insert api key: %w", err)
		}
		return audit(ctx, tx, actor, "api_key.create", k.Actor(),
			map[string]any{"role": k.Role, "state": k.State, "county": k.County, "label": k.Label})
	})
	if err != nil {
		return APIKey{}, "", err
	}
	return k, "bf_" + k.Prefix + "_" + secretText, nil
}

// APIKeyAuthenticate returns the live key whose plaintext is token. Unknown, malformed and revoked
// keys all return ErrBadKey; the secret is compared in constant time.
func (s *Store) APIKeyAuthenticate(ctx context.Context, token string) (APIKey, error) {
	rest, ok := strings.CutPrefix(token, "bf_")
	if !ok {
		return APIKey{}, ErrBadKey
	}
	prefix, secret, ok := strings.Cut(rest, "_")
	if !ok || len(prefix) != 8 || secret == "" {
		return APIKey{}, ErrBadKey
	}
	var k APIKey
	var stored []byte
	var state, county *string
	err := s.pool.QueryRow(ctx, `
		SELECT id, prefix, secret_hash, role, state, county, label, created_at, revoked_at
		FROM api_keys WHERE prefix = $1`, prefix).
		Scan(&k.ID, &k.Prefix, &stored, &k.Role, &state, &county, &k.Label, &k.CreatedAt, &k.RevokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return APIKey{}, ErrBadKey
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("look up api key: %w", err)
	}
	got := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(got[:], stored) != 1 || k.RevokedAt != nil {
		return APIKey{}, ErrBadKey
	}
	if state != nil {
		k.State = *state
	}
	if county != nil {
		k.County = *county
	}
	return k, nil
}

// APIKeyList returns every key, newest first, without secrets.
func (s *Store) APIKeyList(ctx context.Context) ([]APIKey, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, prefix, role, coalesce(state, ''), coalesce(county, ''), label, created_at, revoked_at
		FROM api_keys ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (APIKey, error) {
		var k APIKey
		err := row.Scan(&k.ID, &k.Prefix, &k.Role, &k.State, &k.County, &k.Label, &k.CreatedAt, &k.RevokedAt)
		return k, err
	})
}

// APIKeyRevoke revokes the key with a prefix; it is refused from then on.
func (s *Store) APIKeyRevoke(ctx context.Context, prefix, actor string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE api_keys SET revoked_at = now() WHERE prefix = $1 AND revoked_at IS NULL`, prefix)
		if err != nil {
			return fmt.Errorf("revoke api key: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("api key %s: %w (or already revoked)", prefix, ErrNotFound)
		}
		return audit(ctx, tx, actor, "api_key.revoke", "key:"+prefix, nil)
	})
}
