package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/apiserver"
	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/codec"
	"github.com/ballotflow/ballotflow/internal/config"
	"github.com/ballotflow/ballotflow/internal/demo"
	"github.com/ballotflow/ballotflow/internal/devstack"
	"github.com/ballotflow/ballotflow/internal/loopback"
	"github.com/ballotflow/ballotflow/internal/metrics"
	"github.com/ballotflow/ballotflow/internal/sandbox"
	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/worker"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// DevOptions adjusts the dev stack for tests.
type DevOptions struct {
	// Ephemeral keeps Temporal in memory and picks free ports for everything, so tests run
	// beside a developer's `make run`.
	Ephemeral bool
	// TemporalDataDir, with Ephemeral, keeps the embedded Temporal server's state in this
	// directory instead of in memory, so that a test can restart the server
	// (RestartTemporal) and find its workflows again.
	TemporalDataDir string
	// EnforceProviderRates makes the sandbox providers answer 429 above EMAIL_RATE, SMS_RATE
	// and VOICE_RATE, as the provider accounts would, so that a worker exceeding them shows.
	EnforceProviderRates bool
	// RetentionClock is the clock by which the retention purge decides that an election's
	// records period is over (default time.Now), so that a test moves it 22 months on.
	RetentionClock func() time.Time
	// ExternalSandbox, when set, stands in for the in-process sandbox providers (a benchmark
	// runs them in a process of their own, so that their CPU is not the stack's): StartDev
	// calls it with the API's URL, where the sandbox is to post its signed webhooks, then
	// sends to the sandbox URL it returns and verifies SendGrid events with the key it
	// returns (base64 PKIX, as sandbox.Server.SendGridPublicKeyBase64). Dev.Sandbox is nil
	// then, and the API serves no /dev/outbox: read the sandbox's own.
	ExternalSandbox func(apiURL string) (sandboxURL, sendGridPublicKey string, err error)
}

// Dev is the whole of ballotflow in one process: an embedded Temporal server and UI, the
// sandbox providers, the worker and the API, on PostgreSQL.
type Dev struct {
	Store      *store.Store
	Temporal   client.Client
	Stack      *devstack.Stack
	Sandbox    *sandbox.Server
	SandboxURL string
	APIURL     string
	DemoKey    string // a county API key for Denver
	Codec      *codec.Codec

	worker    *worker.Worker
	retention *WebhookRetention
	workerCfg config.Config // what RestartWorker starts the worker with
	logger    *slog.Logger
	stackOpts devstack.Options // what RestartTemporal starts the server with
	cancel    context.CancelFunc
	servers   []chan error

	// retentionClock is DevOptions.RetentionClock, for RestartWorker.
	retentionClock func() time.Time
}

// SearchAttributes are the custom search attributes ballot workflows use.
var SearchAttributes = map[string]enumspb.IndexedValueType{
	contract.SearchBallotStatus.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	contract.SearchCounty.GetName():       enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	contract.SearchElectionID.GetName():   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
}

// StartDev starts everything and seeds the demo data. Stop undoes it.
func StartDev(ctx context.Context, cfg config.Config, logger *slog.Logger, opts DevOptions) (_ *Dev, err error) {
	d := &Dev{}
	defer func() {
		if err != nil {
			d.Stop()
		}
	}()
	warnDevOverrides(cfg, logger)
	if !opts.Ephemeral { // ephemeral stacks listen on 127.0.0.1 ports of their own
		if cfg, err = devListenAddrs(cfg); err != nil {
			return nil, err
		}
	}
	serveCtx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.retention = &WebhookRetention{Logger: logger.With("component", "webhook-retention")}

	if d.Store, err = OpenStore(ctx, cfg.DatabaseURL, logger); err != nil {
		return nil, err
	}
	if err := demo.Seed(ctx, d.Store, time.Now()); err != nil {
		return nil, err
	}
	d.retention.Store = d.Store
	d.retention.Start(serveCtx)

	apiLn, err := listen(cfg.APIAddr, opts.Ephemeral)
	if err != nil {
		return nil, fmt.Errorf("API: %w", err)
	}
	d.APIURL = "http://" + loopbackAddr(apiLn)
	// Providers sign webhooks for the URL they post to, and only the sandbox posts here: the
	// public URL is the API's own (ephemeral stacks listen on a random port).
	cfg.PublicURL = d.APIURL
	sandboxLn, err := listen(cfg.SandboxAddr, opts.Ephemeral)
	if err != nil {
		apiLn.Close()
		return nil, fmt.Errorf("sandbox providers: %w", err)
	}
	d.SandboxURL = "http://" + loopbackAddr(sandboxLn)

	stackOpts := devstack.Options{
		DataDir: cfg.DevDataDir, FrontendPort: cfg.DevTemporalPort, UIPort: cfg.DevUIPort,
		Namespace: cfg.TemporalNamespace, Retention: cfg.TemporalRetention, SearchAttributes: SearchAttributes,
		// The delivery queues' rate limits must hold exactly: a morning backlog drains at the
		// providers' allowed rate, not three quarters of it. The ballots' queue too: with the
		// one worker of dev, a backlog of workflow tasks spread over partitions it rarely polls
		// drained with idle gaps (BenchmarkMorningBacklog).
		SinglePartitionTaskQueues: []string{contract.TaskQueue, activities.EmailTaskQueue, activities.SMSTaskQueue,
			activities.VoiceTaskQueue},
		UICodecEndpoint: "http://" + loopbackAddr(apiLn) + "/codec",
		Logger:          slog.New(atLeast{logger.Handler(), slog.LevelWarn}).With("component", "temporal-server"),
	}
	if opts.Ephemeral {
		stackOpts.DataDir, stackOpts.FrontendPort, stackOpts.UIPort, stackOpts.PickFreePorts = opts.TemporalDataDir, 0, 0, true
	}
	d.stackOpts = stackOpts
	if d.Stack, err = devstack.Start(ctx, stackOpts); err != nil {
		apiLn.Close()
		sandboxLn.Close()
		return nil, err
	}
	if d.Codec, err = devPayloadCodec(cfg, opts.Ephemeral); err != nil {
		apiLn.Close()
		sandboxLn.Close()
		return nil, err
	}
	if d.Temporal, err = worker.Dial(ctx, d.Stack.FrontendHostPort(), d.Stack.Namespace(), d.Codec.DataConverter(), logger); err != nil {
		apiLn.Close()
		sandboxLn.Close()
		return nil, err
	}

	sandboxOpts := sandbox.Options{
		TwilioAccountSID: config.SandboxTwilioAccountSID, TwilioAuthToken: config.SandboxTwilioAuthToken,
		SendGridAPIKey: config.SandboxSendGridAPIKey, Logger: logger.With("component", "sandbox"),
		SendGridEventWebhookURL: cfg.PublicURL + apiserver.PathSendGridEvents,
		TwilioInboundSMSURL:     cfg.PublicURL + apiserver.PathTwilioSMS,
	}
	if opts.EnforceProviderRates {
		sandboxOpts.RateLimits = map[string]float64{
			ballot.ChannelEmail: cfg.EmailRate, ballot.ChannelSMS: cfg.SMSRate, ballot.ChannelVoice: cfg.VoiceRate,
		}
	}
	var outbox http.Handler
	sendGridKey := ""
	if opts.ExternalSandbox != nil {
		sandboxLn.Close() // the providers run elsewhere
		d.SandboxURL, sendGridKey, err = opts.ExternalSandbox(d.APIURL)
	} else if d.Sandbox, err = sandbox.New(sandboxOpts); err == nil {
		d.serve(serveCtx, sandboxLn, d.Sandbox.Handler())
		outbox, sendGridKey = d.Sandbox.OutboxHandler(), d.Sandbox.SendGridPublicKeyBase64()
	}
	if err != nil {
		apiLn.Close()
		sandboxLn.Close()
		return nil, err
	}

	// The dev process has no provider credentials on purpose: everything goes to the sandbox.
	cfg.SendGridAPIKey, cfg.TwilioAccountSID = "", ""
	d.workerCfg, d.logger, d.retentionClock = cfg, logger, opts.RetentionClock
	if err := PrepareTemporal(ctx, cfg, d.Temporal, d.Stack.Namespace(), logger); err != nil {
		apiLn.Close()
		return nil, err
	}
	if d.worker, err = startWorker(cfg, d.Store, d.Temporal, d.SandboxURL, logger, d.retentionClock); err != nil {
		apiLn.Close()
		return nil, err
	}
	d.serve(serveCtx, apiLn, APIHandler(WithPortalLimits(apiserver.Config{Store: d.Store, Temporal: d.Temporal, Logger: logger,
		Outbox: outbox, Codec: d.Codec, CodecOrigin: d.Stack.UIURL(), CodecWithoutKey: true,
		PublicURL: cfg.PublicURL, TwilioAuthToken: config.SandboxTwilioAuthToken,
		SendGridWebhookPublicKey: sendGridKey, TrustedProxies: cfg.TrustedProxies,
		TemporalUIURL: d.Stack.UIURL(), TemporalNamespace: d.Stack.Namespace(),
		// Dev listens on loopback only, so its metrics stay on the API (behind METRICS_TOKEN
		// when set).
		Metrics: metrics.Protect(metrics.Handler(), cfg.MetricsToken)}, cfg)))

	keyFile := ""
	if !opts.Ephemeral {
		keyFile = filepath.Join(cfg.DevDataDir, "demo-county-key")
	}
	if d.DemoKey, err = demoKey(ctx, d.Store, keyFile); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Dev) serve(ctx context.Context, ln net.Listener, h http.Handler) {
	errc := make(chan error, 1)
	d.servers = append(d.servers, errc)
	go func() { errc <- apiserver.Serve(ctx, ln, h) }()
}

// Stop shuts everything down in reverse order. It is safe on a partly started Dev.
func (d *Dev) Stop() error {
	var errs []error
	if d.cancel != nil {
		d.cancel()
	}
	for _, errc := range d.servers {
		if err := <-errc; err != nil {
			errs = append(errs, err)
		}
	}
	if d.worker != nil {
		d.worker.Stop()
	}
	d.retention.Stop()
	if d.Sandbox != nil {
		d.Sandbox.Close()
	}
	if d.Temporal != nil {
		d.Temporal.Close()
	}
	if d.Stack != nil {
		errs = append(errs, d.Stack.Stop())
	}
	if d.Store != nil {
		d.Store.Close()
	}
	return errors.Join(errs...)
}

// RestartWorker stops the worker, as a crash or a deploy would, and starts a new one.
// Activities in flight have their contexts canceled (their provider requests are abandoned)
// and are retried by Temporal on the new worker.
func (d *Dev) RestartWorker() error {
	if d.worker != nil {
		d.worker.Stop()
	}
	w, err := startWorker(d.workerCfg, d.Store, d.Temporal, d.SandboxURL, d.logger, d.retentionClock)
	if err != nil {
		d.worker = nil
		return fmt.Errorf("restart worker: %w", err)
	}
	d.worker = w
	return nil
}

// RestartTemporal stops the embedded Temporal server and starts it again on the same data
// directory and ports, as an operator's restart would; the worker and the API keep their
// clients, which reconnect. The server must keep its state on disk: a stack started
// Ephemeral needs TemporalDataDir.
func (d *Dev) RestartTemporal(ctx context.Context) error {
	if d.stackOpts.DataDir == "" {
		return errors.New("restart Temporal: the server keeps its state in memory; start the stack with a TemporalDataDir")
	}
	opts := d.stackOpts
	var err error
	if opts.FrontendPort, err = portOf(d.Stack.FrontendHostPort()); err != nil {
		return fmt.Errorf("restart Temporal: %w", err)
	}
	opts.UIPort = -1
	if ui := d.Stack.UIURL(); ui != "" {
		if opts.UIPort, err = portOf(strings.TrimPrefix(ui, "http://")); err != nil {
			return fmt.Errorf("restart Temporal: %w", err)
		}
	}
	if err := d.Stack.Stop(); err != nil {
		return fmt.Errorf("restart Temporal: %w", err)
	}
	stack, err := devstack.Start(ctx, opts)
	if err != nil {
		return fmt.Errorf("restart Temporal: %w", err)
	}
	d.Stack = stack
	return nil
}

func portOf(hostPort string) (int, error) {
	_, p, err := net.SplitHostPort(hostPort)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(p)
}

// Banner is what `ballotflow dev` prints for a newcomer.
func (d *Dev) Banner(w io.Writer) {
	v := demo.Voters[0]
	fmt.Fprintf(w, `
ballotflow is running (dev mode: every email, text and call goes to the SANDBOX, nobody is contacted)

  API               %[1]s            (OpenAPI: %[1]s/openapi.json)
  Voter portal      %[1]s/           (look up the demo voter below)
  Temporal UI       %[2]s
  Sandbox outbox    %[1]s/dev/outbox
  Operators         %[1]s/operator/   (key: ./bin/ballotflow keys create --role operator)
  Temporal gRPC     %[3]s

  Demo county API key (Denver):
    %[4]s

  Demo voter: %[5]s %[6]s, born %[7]s, ZIP %[8]s, voter ID %[9]s (email and SMS on)

  Post a "mailed" event for that voter:
    curl -s -X POST %[1]s/v1/ballot-events \
      -H 'Authorization: Bearer %[4]s' -H 'Content-Type: application/json' \
      -d '{"event_id":"demo-1","election_id":"%[10]s","voter_id":"%[9]s","ballot_id":"DEN-0001","status":"mailed","occurred_at":"%[11]s"}'

  Then: curl -s %[1]s/dev/outbox     and open the ballot in Temporal UI.
  Ctrl-C stops everything; ballots in flight resume at the next start.

`, d.APIURL, d.Stack.UIURL(), d.Stack.FrontendHostPort(), d.DemoKey, v.FirstName, v.LastName,
		v.DateOfBirth.Format("01-02-2006"), v.ResidentialZIP, v.VoterID, demo.ElectionID,
		time.Now().UTC().Truncate(time.Second).Format(time.RFC3339))
}

// demoKey returns the demo county key, reusing the one in keyFile while it is still valid,
// so the key printed yesterday still works today.
func demoKey(ctx context.Context, st *store.Store, keyFile string) (string, error) {
	if keyFile != "" {
		if b, err := os.ReadFile(keyFile); err == nil {
			key := strings.TrimSpace(string(b))
			if _, err := st.APIKeyAuthenticate(ctx, key); err == nil {
				return key, nil
			}
		}
	}
	_, plaintext, err := st.APIKeyCreate(ctx, store.APIKey{Role: store.RoleCounty, State: "CO", County: "denver",
		Label: "dev demo key"}, "dev")
	if err != nil {
		return "", err
	}
	if keyFile != "" {
		if err := os.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
			return "", err
		}
		if err := os.WriteFile(keyFile, []byte(plaintext+"\n"), 0o600); err != nil {
			return "", err
		}
	}
	return plaintext, nil
}

// listen opens addr, or a free loopback port when ephemeral.
func listen(addr string, ephemeral bool) (net.Listener, error) {
	if ephemeral {
		addr = "127.0.0.1:0"
	}
	return net.Listen("tcp", addr)
}

// loopbackAddr is a listener's address as a client on this machine dials it.
func loopbackAddr(ln net.Listener) string {
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// devPayloadCodec returns the dev stack's payload codec: PAYLOAD_KEYS when set, else a key
// kept in DEV_DATA_DIR (so histories written yesterday still open today), or a fresh one for
// ephemeral stacks.
func devPayloadCodec(cfg config.Config, ephemeral bool) (*codec.Codec, error) {
	if cfg.PayloadKeys != "" {
		return PayloadCodec(cfg)
	}
	file := filepath.Join(cfg.DevDataDir, "payload-keys")
	if !ephemeral {
		if b, err := os.ReadFile(file); err == nil {
			return codec.Parse(strings.TrimSpace(string(b)))
		}
	}
	spec, err := codec.NewKey("dev1")
	if err != nil {
		return nil, err
	}
	if !ephemeral {
		if err := os.MkdirAll(cfg.DevDataDir, 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(file, []byte(spec+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	return codec.Parse(spec)
}

// devOverridden are the variables `dev` does not honour, and why: dev contacts nobody, runs
// its own Temporal server, and its sandbox posts and signs every webhook to the dev API.
var devOverridden = []struct{ name, why string }{
	{"PUBLIC_URL", "the sandbox posts webhooks to the dev API's own URL and signs them for it"},
	{"SENDGRID_WEBHOOK_PUBLIC_KEY", "the sandbox signs SendGrid events with a key of its own, made at each start"},
	{"SENDGRID_API_KEY", "dev sends every email to the sandbox; nobody is contacted"},
	{"SENDGRID_BASE_URL", "dev sends every email to the sandbox; nobody is contacted"},
	{"TWILIO_ACCOUNT_SID", "dev sends every text and call to the sandbox; nobody is contacted"},
	{"TWILIO_AUTH_TOKEN", "Twilio webhooks in dev come from the sandbox, signed with its token"},
	{"TWILIO_BASE_URL", "dev sends every text and call to the sandbox; nobody is contacted"},
	{"TEMPORAL_ADDRESS", "dev runs its own Temporal server on DEV_TEMPORAL_PORT"},
	{"METRICS_ADDR", "dev serves /metrics on the API, which listens on loopback only"},
	{"OIDC_ISSUER", "dev's Temporal UI has no sign-in and its codec takes no key (loopback only); run `ballotflow api` for operators' sign-in"},
}

// warnDevOverrides says loudly which of the variables set in the environment `dev`
// ignores, so that nobody believes a real key or URL is in use.
func warnDevOverrides(cfg config.Config, logger *slog.Logger) {
	for _, o := range devOverridden {
		if cfg.IsSet(o.name) {
			logger.Warn("dev ignores "+o.name, "why", o.why)
		}
	}
}

// devListenAddrs gives the dev API its loopback default (config.DevAPIAddr) when API_ADDR
// is not set, and refuses to start dev on an address other machines can reach: dev serves
// the sandbox outbox (it holds confirmation links) and the payload codec without a key, and
// its sandbox signs inbound texts for anyone who posts to it.
func devListenAddrs(cfg config.Config) (config.Config, error) {
	if !cfg.IsSet("API_ADDR") {
		cfg.APIAddr = config.DevAPIAddr
	}
	for _, a := range []struct{ name, addr string }{{"API_ADDR", cfg.APIAddr}, {"SANDBOX_ADDR", cfg.SandboxAddr}} {
		if !loopback.Addr(a.addr) {
			return cfg, fmt.Errorf("%s=%s is not a loopback address: `ballotflow dev` serves the sandbox outbox and "+
				"the payload codec without a key, so it listens on this machine only; use 127.0.0.1:PORT or "+
				"localhost:PORT (a tunnel or SSH forward reaches it from elsewhere), or run `ballotflow api` "+
				"with real keys to serve a network", a.name, a.addr)
		}
	}
	return cfg, nil
}
