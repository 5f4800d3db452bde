// Package config reads ballotflow's configuration from environment variables. Every
// variable, its default and its meaning is listed in Vars, which the README's table mirrors.
package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Var is one environment variable.
type Var struct {
	Name    string
	Default string
	Help    string
}

// Vars lists every variable ballotflow reads.
var Vars = []Var{
	{"DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ballotflow?sslmode=disable", "PostgreSQL; `dev` and `migrate` create the database if missing"},
	{"TEMPORAL_ADDRESS", "127.0.0.1:7233", "Temporal frontend (gRPC) for `worker` and `api`"},
	{"TEMPORAL_NAMESPACE", "default", "Temporal namespace"},
	{"TEMPORAL_RETENTION", "90d", "how long Temporal keeps closed workflows (days, `90d`, or a Go duration, `2160h`); `worker` and `dev` set it on TEMPORAL_NAMESPACE at start. Ballots' records stay in PostgreSQL; 90 days covers the canvass, recounts and contests, and is Temporal Cloud's maximum"},
	{"RETENTION_PURGE_TIME", "09:00", "`worker` and `dev`: the time of day (HH:MM, UTC) of the daily retention purge, the Temporal schedule retention-purge, which they create or update at start"},
	{"TEMPORAL_UI_URL", "http://127.0.0.1:8233", "Temporal UI, for links shown to operators"},
	{"API_ADDR", ":8080", "where the API listens; `dev` defaults to " + DevAPIAddr + " and refuses any address that is not loopback"},
	{"METRICS_ADDR", "", "where to serve Prometheus /metrics on a listener of its own (e.g. `:9090`, reachable only from the monitoring network); empty: `worker` serves none and `api` serves them on API_ADDR"},
	{"PPROF_ADDR", "", "`worker` and `api`: where to serve Go's runtime profiles (`/debug/pprof/`, for `go tool pprof`) on a listener of its own; loopback only (e.g. `127.0.0.1:6060`), anything else is refused; empty: none"},
	{"METRICS_TOKEN", "", "when set, /metrics (wherever it is served) answers only `Authorization: Bearer <token>`, as Prometheus' `authorization` scrape setting sends it"},
	{"PORTAL_LOOKUP_FAILURES_PER_MINUTE", "300", "`api`: failed portal lookups a minute, of everyone together, beyond which lookups pause for everyone until the minute ends (a circuit breaker against enumeration from many addresses); a statewide portal raises it to about ten times its busiest minute's failures"},
	{"PORTAL_FAILED_LOOKUPS_PER_CLIENT", "30", "`api`: failed portal lookups one client address (an IPv6 client's /64) may make in 10 minutes; sign-ins that succeed are not counted"},
	{"PUBLIC_URL", "http://127.0.0.1:8080", "the API's public URL, used for provider webhook URLs and signatures"},
	{"TRUSTED_PROXIES", "", "comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-For the API believes (for the portal's per-client rate limit); empty = none"},
	{"SENDGRID_API_KEY", "", "SendGrid key; empty = the sandbox"},
	{"SENDGRID_WEBHOOK_PUBLIC_KEY", "", "verification key of SendGrid's signed event webhook (base64, from SendGrid's settings); empty refuses SendGrid events"},
	{"SENDGRID_BASE_URL", "", "SendGrid API base URL; empty = api.sendgrid.com, or the sandbox when no key is set"},
	{"TWILIO_ACCOUNT_SID", "", "Twilio account; empty = the sandbox"},
	{"TWILIO_AUTH_TOKEN", "", "Twilio auth token, required with TWILIO_ACCOUNT_SID (and only with it); also verifies Twilio's webhook signatures"},
	{"TWILIO_BASE_URL", "", "Twilio API base URL; empty = api.twilio.com, or the sandbox when no account is set"},
	{"SANDBOX_ADDR", "127.0.0.1:8026", "where the sandbox providers listen (`dev`, `sandbox`); `dev` refuses any address that is not loopback"},
	{"SANDBOX_URL", "http://127.0.0.1:8026", "the sandbox providers' URL, for workers without provider credentials"},
	{"SANDBOX_ENFORCE_RATES", "off", "`sandbox`: `on` answers 429 with a Retry-After above EMAIL_RATE, SMS_RATE and VOICE_RATE requests a second, as the provider accounts those rates stand for would (refusals are counted at `/dev/rate-limited`); `off`: no limit"},
	{"SANDBOX_SENDGRID_SIGNING_KEY", "", "`sandbox`: the ECDSA P-256 key (base64 PKCS#8) that signs its SendGrid events; set, the sandbox posts them to PUBLIC_URL's SendGrid webhook as SendGrid does, and the API verifies them with SENDGRID_WEBHOOK_PUBLIC_KEY set to its public half (`ballotflow sandbox-key` makes the pair). Empty: no SendGrid events, so emails stay `accepted`, never `delivered`"},
	{"EMAIL_RATE", "50", "email requests per second, across all workers"},
	{"SMS_RATE", "10", "text messages per second, across all workers"},
	{"VOICE_RATE", "1", "calls per second, across all workers"},
	{"INGEST_RATE", "200", "ballot events per second each bulk import is signaled at (`worker`)"},
	{"WORKFLOW_CACHE_SIZE", "10000", "`worker`: ballot workflows a worker keeps in memory between their tasks (about 45 KiB each; the Temporal SDK's default is 10,000). One woken when not kept is replayed from its history first, about 6 CPU-ms more for each text of the 08:00 drain: where memory allows, keep the texts and calls held for contact hours per worker (docs/capacity.md)"},
	{"IMPORT_HOLD_SHARE", "0.05", "a bulk import of 20 events or more is held for an operator when more than this share of them would move ballots backwards or contradict their history (`worker`)"},
	{"DEV_DATA_DIR", ".data", "`dev`: where the embedded Temporal server keeps its SQLite file"},
	{"DEV_TEMPORAL_PORT", "7233", "`dev`: the embedded Temporal frontend port"},
	{"DEV_UI_PORT", "8233", "`dev`: the Temporal UI port"},
	{"PAYLOAD_KEYS", "", "AES-256 keys that encrypt Temporal payloads, `id:base64,...` (first encrypts); `ballotflow payload-key` makes one; `dev` keeps its own in DEV_DATA_DIR"},
	{"OIDC_ISSUER", "", "`api`: the issuer URL of the county's OpenID Connect provider, exactly as its tokens name it; operators who sign in there (Temporal UI, the operator dashboard) may use /codec and the operator API. Empty: operator keys only"},
	{"OIDC_AUDIENCE", "", "`api`, with OIDC_ISSUER (required): comma-separated audiences an operator's access token must name one of (the API's audience at the provider, or the clients' ids)"},
	{"OIDC_GROUPS_CLAIM", "groups", "`api`: the token claim that lists a person's groups or roles; a dotted path reads a nested claim (Keycloak: `realm_access.roles`)"},
	{"OIDC_OPERATOR_GROUP", "", "`api`, with OIDC_ISSUER (required): the group (or role) in OIDC_GROUPS_CLAIM that makes a person an operator"},
	{"OIDC_OPERATOR_CLIENT_ID", "", "`api`: the operator dashboard's public client at the provider (authorization code with PKCE, no secret; redirect URI `<API URL>/operator/`); empty: the dashboard takes operator keys only"},
	{"OIDC_OPERATOR_SCOPES", "openid profile email", "`api`: the scopes the operator dashboard asks for at sign-in (add `groups` for Dex)"},
	{"LOG_LEVEL", "info", "debug, info, warn or error"},
	{"LOG_FORMAT", "json", "json or text (`dev` defaults to text)"},
}

// Sandbox credentials: the sandbox providers accept only these, and real providers never do.
const (
	SandboxTwilioAccountSID = "ACba110f10000000000000000000000000"
	SandboxTwilioAuthToken  = "sandboxtwilioauthtoken0000000000" // twilio-go accepts only letters and digits
	SandboxSendGridAPIKey   = "SG.sandbox.ballotflow"
)

// DevAPIAddr is where `ballotflow dev` listens when API_ADDR is not set: loopback only,
// because dev serves the sandbox outbox (it holds confirmation links) and the payload codec
// without a key.
const DevAPIAddr = "127.0.0.1:8080"

// MaxWorkflowCacheSize bounds WORKFLOW_CACHE_SIZE: a million cached ballots is about 45 GiB.
const MaxWorkflowCacheSize = 1_000_000

// Config is the whole configuration.
type Config struct {
	DatabaseURL       string
	TemporalAddress   string
	TemporalNamespace string
	TemporalUIURL     string
	APIAddr           string
	MetricsAddr       string
	MetricsToken      string
	PprofAddr         string
	// Portal lookup limits (see apiserver.PortalLimits).
	PortalLookupFailuresPerMinute int
	PortalFailedLookupsPerClient  int
	PublicURL                     string
	TrustedProxies                []string
	SendGridAPIKey                string
	SendGridBaseURL               string
	SendGridEventKey              string
	TwilioAccountSID              string
	TwilioAuthToken               string
	TwilioBaseURL                 string
	SandboxAddr                   string
	SandboxURL                    string
	// SandboxEnforceRates: `ballotflow sandbox` refuses requests above the provider rates.
	SandboxEnforceRates bool
	EmailRate           float64
	SMSRate             float64
	VoiceRate           float64
	IngestRate          float64
	// WorkflowCacheSize is how many workflow executions a worker process keeps in memory.
	WorkflowCacheSize int
	ImportHoldShare   float64
	DevDataDir        string
	DevTemporalPort   int
	DevUIPort         int
	PayloadKeys       string
	LogLevel          string
	LogFormat         string

	// Operators' sign-in with the county's OpenID Connect provider (see signin.Config).
	OIDCIssuer           string
	OIDCAudiences        []string
	OIDCGroupsClaim      string
	OIDCOperatorGroup    string
	OIDCOperatorClientID string
	OIDCOperatorScopes   []string

	// SandboxSendGridKey signs the sandbox's SendGrid events (`ballotflow sandbox`); nil: none
	// are posted.
	SandboxSendGridKey *ecdsa.PrivateKey

	// TemporalRetention is how long the namespace keeps closed workflows.
	TemporalRetention time.Duration
	// RetentionPurgeAt is the time of day, after midnight UTC, of the daily retention purge.
	RetentionPurgeAt time.Duration

	// set names the variables given in the environment (not defaulted), for `dev`, which
	// replaces some defaults and overrides some settings and says so.
	set map[string]bool
}

// FromEnv reads the configuration; a malformed number is an error that names the variable.
func FromEnv() (Config, error) {
	var errs []string
	set := map[string]bool{}
	str := func(name string) string {
		if v, ok := os.LookupEnv(name); ok && v != "" {
			set[name] = true
			return v
		}
		for _, v := range Vars {
			if v.Name == name {
				return v.Default
			}
		}
		panic("config: undeclared variable " + name) // programming error, caught by tests
	}
	num := func(name string) float64 {
		f, err := strconv.ParseFloat(str(name), 64)
		if err != nil || f <= 0 {
			errs = append(errs, fmt.Sprintf("%s must be a positive number", name))
		}
		return f
	}
	port := func(name string) int {
		p, err := strconv.Atoi(str(name))
		if err != nil || p <= 0 || p > 65535 {
			errs = append(errs, fmt.Sprintf("%s must be a port number", name))
		}
		return p
	}
	count := func(name string) int {
		n, err := strconv.Atoi(str(name))
		if err != nil || n <= 0 {
			errs = append(errs, fmt.Sprintf("%s must be a positive whole number", name))
		}
		return n
	}
	days := func(name string) time.Duration {
		d, err := parseRetention(str(name))
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s %s", name, err))
		}
		return d
	}
	clock := func(name string) time.Duration {
		t, err := time.Parse("15:04", str(name))
		if err != nil {
			errs = append(errs, name+" must be a time of day HH:MM (UTC), e.g. 09:00")
		}
		return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
	}
	c := Config{
		DatabaseURL:                   str("DATABASE_URL"),
		TemporalAddress:               str("TEMPORAL_ADDRESS"),
		TemporalNamespace:             str("TEMPORAL_NAMESPACE"),
		TemporalRetention:             days("TEMPORAL_RETENTION"),
		RetentionPurgeAt:              clock("RETENTION_PURGE_TIME"),
		TemporalUIURL:                 strings.TrimRight(str("TEMPORAL_UI_URL"), "/"),
		APIAddr:                       str("API_ADDR"),
		MetricsAddr:                   str("METRICS_ADDR"),
		MetricsToken:                  str("METRICS_TOKEN"),
		PprofAddr:                     str("PPROF_ADDR"),
		PortalLookupFailuresPerMinute: count("PORTAL_LOOKUP_FAILURES_PER_MINUTE"),
		PortalFailedLookupsPerClient:  count("PORTAL_FAILED_LOOKUPS_PER_CLIENT"),
		PublicURL:                     strings.TrimRight(str("PUBLIC_URL"), "/"),
		SendGridAPIKey:                str("SENDGRID_API_KEY"),
		SendGridBaseURL:               str("SENDGRID_BASE_URL"),
		SendGridEventKey:              str("SENDGRID_WEBHOOK_PUBLIC_KEY"),
		TwilioAccountSID:              str("TWILIO_ACCOUNT_SID"),
		TwilioAuthToken:               str("TWILIO_AUTH_TOKEN"),
		TwilioBaseURL:                 str("TWILIO_BASE_URL"),
		SandboxAddr:                   str("SANDBOX_ADDR"),
		SandboxURL:                    strings.TrimRight(str("SANDBOX_URL"), "/"),
		EmailRate:                     num("EMAIL_RATE"),
		SMSRate:                       num("SMS_RATE"),
		VoiceRate:                     num("VOICE_RATE"),
		IngestRate:                    num("INGEST_RATE"),
		WorkflowCacheSize:             count("WORKFLOW_CACHE_SIZE"),
		ImportHoldShare:               num("IMPORT_HOLD_SHARE"),
		DevDataDir:                    str("DEV_DATA_DIR"),
		DevTemporalPort:               port("DEV_TEMPORAL_PORT"),
		DevUIPort:                     port("DEV_UI_PORT"),
		PayloadKeys:                   str("PAYLOAD_KEYS"),
		OIDCIssuer:                    strings.TrimSpace(str("OIDC_ISSUER")),
		OIDCAudiences:                 words(str("OIDC_AUDIENCE")),
		OIDCGroupsClaim:               strings.TrimSpace(str("OIDC_GROUPS_CLAIM")),
		OIDCOperatorGroup:             strings.TrimSpace(str("OIDC_OPERATOR_GROUP")),
		OIDCOperatorClientID:          strings.TrimSpace(str("OIDC_OPERATOR_CLIENT_ID")),
		OIDCOperatorScopes:            words(str("OIDC_OPERATOR_SCOPES")),
		LogLevel:                      str("LOG_LEVEL"),
		LogFormat:                     str("LOG_FORMAT"),
		set:                           set,
	}
	for _, p := range strings.Split(str("TRUSTED_PROXIES"), ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if _, _, err := net.ParseCIDR(p); err != nil && net.ParseIP(p) == nil {
			errs = append(errs, fmt.Sprintf("TRUSTED_PROXIES: %q is not an IP address or CIDR", p))
		}
		c.TrustedProxies = append(c.TrustedProxies, p)
	}
	switch v := str("SANDBOX_ENFORCE_RATES"); v {
	case "on":
		c.SandboxEnforceRates = true
	case "off", "":
	default:
		errs = append(errs, "SANDBOX_ENFORCE_RATES must be on or off")
	}
	if v := str("SANDBOX_SENDGRID_SIGNING_KEY"); v != "" {
		var err error
		if c.SandboxSendGridKey, err = ParseSigningKey(v); err != nil {
			errs = append(errs, "SANDBOX_SENDGRID_SIGNING_KEY "+err.Error())
		}
	}
	if c.WorkflowCacheSize > MaxWorkflowCacheSize {
		errs = append(errs, fmt.Sprintf("WORKFLOW_CACHE_SIZE must be at most %d (about 45 KiB each)", MaxWorkflowCacheSize))
	}
	if c.ImportHoldShare > 1 {
		errs = append(errs, "IMPORT_HOLD_SHARE must be a share between 0 and 1, e.g. 0.05")
	}
	errs = append(errs, c.twilioErrors()...)
	if len(errs) > 0 {
		return c, fmt.Errorf("configuration: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

// parseRetention reads a retention: whole days ("90d") or a Go duration ("2160h"), more
// than nothing and at most ten years (the server may ask for less).
func parseRetention(s string) (time.Duration, error) {
	const most = 10 * 366 * 24 * time.Hour
	d, err := time.ParseDuration(s)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, atoiErr := strconv.Atoi(n)
		d, err = time.Duration(days)*24*time.Hour, atoiErr
		if days > int(most/(24*time.Hour)) {
			d = most + 1
		}
	}
	if err != nil || d <= 0 || d > most {
		return 0, fmt.Errorf("must be a number of days (90d) or a duration (2160h), at most ten years, not %q", s)
	}
	return d, nil
}

// ParseSigningKey reads an ECDSA P-256 private key written as base64 PKCS#8 DER (what
// NewSandboxSendGridKey makes). Its errors never quote the key.
func ParseSigningKey(s string) (*ecdsa.PrivateKey, error) {
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("must be base64 (make one with `ballotflow sandbox-key`)")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errors.New("must be a PKCS#8 private key (make one with `ballotflow sandbox-key`)")
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, errors.New("must be an ECDSA P-256 key, the kind SendGrid signs its events with")
	}
	return key, nil
}

// NewSandboxSendGridKey makes a key pair for the sandbox's SendGrid events: the signing key
// for SANDBOX_SENDGRID_SIGNING_KEY and its public half, base64 PKIX as SendGrid's settings
// show it, for SENDGRID_WEBHOOK_PUBLIC_KEY.
func NewSandboxSendGridKey() (signing, public string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	priv, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", "", err
	}
	return base64.StdEncoding.EncodeToString(priv), base64.StdEncoding.EncodeToString(pub), nil
}

// words splits a list written with commas or spaces.
func words(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

// twilioErrors refuses half a Twilio configuration. The account and its token go together:
// a token without an account would send through the sandbox while webhooks are signed by
// the real account, and an account without a token cannot send or verify anything. Both
// empty selects the sandbox.
func (c Config) twilioErrors() []string {
	switch {
	case c.TwilioAccountSID != "" && c.TwilioAuthToken == "":
		return []string{"TWILIO_AUTH_TOKEN is required with TWILIO_ACCOUNT_SID"}
	case c.TwilioAccountSID == "" && c.TwilioAuthToken != "":
		return []string{"TWILIO_ACCOUNT_SID is required with TWILIO_AUTH_TOKEN (set both for the real Twilio, neither for the sandbox)"}
	}
	return nil
}

// IsSet reports whether the variable name was given in the environment rather than
// defaulted.
func (c Config) IsSet(name string) bool {
	return c.set[name]
}

// UseSandbox reports which providers fall back to the sandbox for lack of credentials.
func (c Config) UseSandbox() (email, phone bool) {
	return c.SendGridAPIKey == "", c.TwilioAccountSID == ""
}
