// Package devstack runs an embedded Temporal server plus the Temporal UI in
// the current process, for local development and integration tests.
//
// It is assembled from go.temporal.io/server/temporal with the SQLite
// persistence plugin (the same recipe the Temporal CLI's dev server uses) and
// github.com/temporalio/ui-server/v2, whose web assets are embedded in the Go
// module. Nothing is downloaded at run time.
//
// With Options.DataDir set, all state (executions, history, timers, task
// queues, visibility) lives in one SQLite file, so stopping and starting again
// on the same directory resumes running workflows where they were.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/server/temporal"
)

// Defaults applied by Start to zero-valued Options fields.
const (
	DefaultIP           = "127.0.0.1"
	DefaultFrontendPort = 7233
	DefaultUIPort       = 8233
	DefaultNamespace    = "default"
	// DefaultRetention is how long closed workflows stay visible. Ballots
	// live for weeks, so a dev namespace keeps them around for 30 days.
	DefaultRetention = 30 * 24 * time.Hour
	// DefaultStartTimeout bounds Start when ctx has no deadline.
	DefaultStartTimeout = 2 * time.Minute
)

// minRetention is the server's lower bound for namespace retention. The
// namespace is written straight into the database, bypassing the server's
// validation, so Start checks it itself.
const minRetention = 24 * time.Hour

// Options configures the embedded stack. Zero values get sensible defaults.
type Options struct {
	// DataDir is the directory holding the SQLite file (temporal.db). It is
	// created if missing. Empty means an in-memory database whose state is
	// lost on Stop (what most tests want).
	DataDir string

	// IP is the address the frontend and the UI bind to. Default
	// "127.0.0.1"; "localhost" is accepted as an alias for it. Binding
	// 0.0.0.0 exposes both on all interfaces; the internal services
	// (history, matching, worker) always stay on loopback.
	IP string

	// FrontendPort is the gRPC port SDK clients connect to. 0 means
	// DefaultFrontendPort (7233), or a free port when PickFreePorts is set.
	FrontendPort int

	// UIPort is the Temporal UI HTTP port. 0 means DefaultUIPort (8233), or a
	// free port when PickFreePorts is set. A negative value disables the UI.
	UIPort int

	// PickFreePorts makes zero-valued FrontendPort and UIPort mean "any free
	// port" instead of the well-known defaults, so parallel tests and a
	// developer's running stack never collide. Explicit ports are still
	// honoured. Read the chosen ports back with FrontendHostPort and UIURL.
	PickFreePorts bool

	// Namespace is created on first start and reused afterwards. Default
	// "default".
	Namespace string

	// Retention of closed workflows in Namespace; default DefaultRetention,
	// minimum 24h. Applied to an existing namespace too.
	Retention time.Duration

	// SearchAttributes are custom search attributes to register on Namespace,
	// e.g. {"BallotStatus": enums.INDEXED_VALUE_TYPE_KEYWORD}. Registering is
	// idempotent; a name already registered with a different type is an
	// error. The SQLite visibility schema bounds how many of each type a
	// namespace can have (10 Keyword, 3 each of the other types).
	SearchAttributes map[string]enums.IndexedValueType

	// SinglePartitionTaskQueues are task queues the server serves from one partition
	// instead of its default four, so that a rate limit their workers set
	// (TaskQueueActivitiesPerSecond) holds exactly. The server divides such a limit
	// evenly among a queue's partitions, and a backlog spread unevenly over them
	// drains well below the limit, with a slow tail.
	SinglePartitionTaskQueues []string

	// UICodecEndpoint is an optional remote codec endpoint the Temporal UI
	// calls from the browser to decode payloads, e.g.
	// "http://127.0.0.1:8080/codec". That server must allow CORS from the UI
	// origin. Empty means no codec.
	UICodecEndpoint string

	// Logger receives the Temporal server logs. Default: WARN and above to
	// stderr; the server is very chatty at INFO.
	Logger *slog.Logger
}

// Stack is a running Temporal server (frontend, history, matching and worker
// services in this process) plus, unless disabled, the Temporal UI. Create it
// with Start and release it with Stop.
type Stack struct {
	server       temporal.Server
	ui           *uiRunner
	logger       serverLogger
	frontendAddr string
	httpAddr     string
	namespace    string
	dataKey      string // key in dataDirsInUse; "" for in-memory

	stopOnce sync.Once
	stopErr  error
}

// dataDirsInUse guards against two Stacks sharing one SQLite file in the same
// process: the SQLite plugin pools connections process-wide by file name, so
// both servers would silently share (and fight over) the same shard.
var (
	dataDirsMu    sync.Mutex
	dataDirsInUse = map[string]bool{}
)

// Start starts the server (and UI unless disabled), waits until the frontend
// answers, the namespace exists, and the search attributes are registered,
// then returns.
//
// ctx bounds the whole start-up; without a deadline DefaultStartTimeout
// applies. The server's own service start-up is not interruptible, so a
// cancelled ctx is noticed once that phase returns (the server is then stopped
// again before Start returns the error).
func Start(ctx context.Context, opts Options) (*Stack, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultStartTimeout)
		defer cancel()
	}

	ports, uiPort, err := choosePorts(o)
	if err != nil {
		return nil, err
	}

	dbPath, dataKey, err := claimDataDir(o.DataDir)
	if err != nil {
		return nil, err
	}
	release := func() { releaseDataDir(dataKey) }

	sqlCfg, err := sqlConfig(dbPath)
	if err != nil {
		release()
		return nil, err
	}
	if err := ensureNamespace(sqlCfg, o.Namespace, o.Retention); err != nil {
		release()
		return nil, err
	}

	logger := newServerLogger(o.Logger)
	srv, err := newServer(serverOptions(buildServerConfig(sqlCfg, ports), ports, logger, o.SinglePartitionTaskQueues))
	if err != nil {
		release()
		return nil, err
	}
	if err := startServer(srv); err != nil {
		logger.shuttingDown()
		_ = stopServer(srv) // best effort: services that did start hold ports
		release()
		return nil, err
	}

	s := &Stack{
		server:       srv,
		logger:       logger,
		frontendAddr: ports.frontendAddr(),
		httpAddr:     ports.frontendHTTPAddr(),
		namespace:    o.Namespace,
		dataKey:      dataKey,
	}
	if err := s.waitReady(ctx, o); err != nil {
		_ = s.Stop()
		return nil, err
	}
	if uiPort > 0 {
		ui, err := startUI(ctx, uiConfig(o.IP, uiPort, s.frontendAddr, o.Namespace, o.UICodecEndpoint))
		if err != nil {
			_ = s.Stop()
			return nil, err
		}
		s.ui = ui
	}
	return s, nil
}

// FrontendHostPort is the gRPC address for SDK clients, e.g. "127.0.0.1:7233".
func (s *Stack) FrontendHostPort() string { return s.frontendAddr }

// FrontendHTTPHostPort is the address of the frontend's HTTP API (always on a
// free port; Temporal's HTTP API is rarely needed in dev).
func (s *Stack) FrontendHTTPHostPort() string { return s.httpAddr }

// UIURL is the Temporal UI base URL, e.g. "http://127.0.0.1:8233", or "" when
// the UI is disabled.
func (s *Stack) UIURL() string {
	if s.ui == nil {
		return ""
	}
	return s.ui.url
}

// Namespace is the namespace Start created or reused.
func (s *Stack) Namespace() string { return s.namespace }

// Stop shuts down the UI and then the server. It is safe to call more than
// once (and concurrently); later calls return the first call's result.
// Workflows keep running from the SQLite file on the next Start with the same
// DataDir.
func (s *Stack) Stop() error {
	s.stopOnce.Do(func() {
		// The server logs plenty of harmless warnings while its services and
		// connections go down; only errors are worth showing now.
		s.logger.shuttingDown()
		if s.ui != nil {
			s.ui.stop()
		}
		if err := stopServer(s.server); err != nil {
			s.stopErr = fmt.Errorf("devstack: stop server: %w", err)
		}
		releaseDataDir(s.dataKey)
	})
	return s.stopErr
}

// withDefaults validates opts and fills in defaults.
func (opts Options) withDefaults() (Options, error) {
	o := opts
	if o.IP == "" || o.IP == "localhost" {
		// The server wants an IP literal to bind to, not a host name.
		o.IP = DefaultIP
	}
	if net.ParseIP(o.IP) == nil {
		return o, fmt.Errorf("devstack: invalid IP %q: want an IP address", o.IP)
	}
	if o.FrontendPort < 0 || o.FrontendPort > 65535 {
		return o, fmt.Errorf("devstack: invalid frontend port %d", o.FrontendPort)
	}
	if o.UIPort > 65535 {
		return o, fmt.Errorf("devstack: invalid UI port %d", o.UIPort)
	}
	o.Namespace = strings.TrimSpace(o.Namespace)
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.Namespace == "temporal-system" {
		return o, errors.New("devstack: namespace temporal-system is reserved")
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.Retention < minRetention {
		return o, fmt.Errorf("devstack: retention %s is below the server minimum of %s", o.Retention, minRetention)
	}
	for name, typ := range o.SearchAttributes {
		if name == "" {
			return o, errors.New("devstack: empty search attribute name")
		}
		if _, known := enums.IndexedValueType_name[int32(typ)]; !known || typ == enums.INDEXED_VALUE_TYPE_UNSPECIFIED {
			return o, fmt.Errorf("devstack: search attribute %q: invalid type %v", name, typ)
		}
	}
	if o.Logger == nil {
		o.Logger = defaultLogger()
	}
	return o, nil
}

// choosePorts decides every port before anything starts. Explicit ports are
// checked up front because a failed bind inside the server is a Fatal log
// call deep in its dependency injection, which makes for a poor error.
func choosePorts(o Options) (serverPorts, int, error) {
	p := serverPorts{frontendIP: o.IP, frontendGRPC: o.FrontendPort, internalIP: "127.0.0.1"}
	if ip := net.ParseIP(o.IP); ip.To4() == nil && ip.IsLoopback() {
		p.internalIP = "::1" // IPv6-only loopback setup
	}

	pick := func(ip string, port *int, what string) error {
		if *port != 0 {
			return nil
		}
		free, err := freePort(ip)
		if err != nil {
			return fmt.Errorf("devstack: pick free %s port: %w", what, err)
		}
		*port = free
		return nil
	}

	if p.frontendGRPC == 0 && !o.PickFreePorts {
		p.frontendGRPC = DefaultFrontendPort
	}
	if err := pick(o.IP, &p.frontendGRPC, "frontend"); err != nil {
		return p, 0, err
	}
	if err := checkPortFree(o.IP, p.frontendGRPC); err != nil {
		return p, 0, fmt.Errorf("devstack: frontend port %d not available: %w", p.frontendGRPC, err)
	}
	// The internal ports are always picked freely: nobody needs to know them.
	for _, x := range []struct {
		ip   string
		port *int
		what string
	}{
		{o.IP, &p.frontendHTTP, "frontend HTTP"},
		{p.internalIP, &p.history, "history"},
		{p.internalIP, &p.matching, "matching"},
		{p.internalIP, &p.worker, "worker"},
	} {
		if err := pick(x.ip, x.port, x.what); err != nil {
			return p, 0, err
		}
	}

	uiPort := o.UIPort
	switch {
	case uiPort < 0:
		return p, -1, nil
	case uiPort == 0 && !o.PickFreePorts:
		uiPort = DefaultUIPort
	case uiPort == 0:
		if err := pick(o.IP, &uiPort, "UI"); err != nil {
			return p, 0, err
		}
	}
	if uiPort == p.frontendGRPC {
		return p, 0, fmt.Errorf("devstack: UI port and frontend port are both %d", uiPort)
	}
	// Checked before the server starts so a busy UI port fails fast, and again
	// right before the UI binds (see startUI).
	if err := checkPortFree(o.IP, uiPort); err != nil {
		return p, 0, fmt.Errorf("devstack: UI port %d not available: %w", uiPort, err)
	}
	return p, uiPort, nil
}

// claimDataDir resolves the SQLite path for dir (creating dir) and records it
// as in use by this process. For an in-memory stack it returns "", "".
func claimDataDir(dir string) (dbPath, key string, err error) {
	if dir == "" {
		return "", "", nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", "", fmt.Errorf("devstack: resolve data dir: %w", err)
	}
	// The SQLite DSN is "file:<path>?<params>"; these characters would be
	// parsed as part of the URI rather than the path.
	if strings.ContainsAny(abs, "?#") {
		return "", "", fmt.Errorf("devstack: data dir %q must not contain '?' or '#'", abs)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", "", fmt.Errorf("devstack: create data dir: %w", err)
	}
	dbPath = filepath.Join(abs, dbFileName)

	dataDirsMu.Lock()
	defer dataDirsMu.Unlock()
	if dataDirsInUse[dbPath] {
		return "", "", fmt.Errorf("devstack: data dir %s is already used by a running Stack in this process", abs)
	}
	dataDirsInUse[dbPath] = true
	return dbPath, dbPath, nil
}

func releaseDataDir(key string) {
	if key == "" {
		return
	}
	dataDirsMu.Lock()
	delete(dataDirsInUse, key)
	dataDirsMu.Unlock()
}

// newServer, startServer and stopServer convert panics - in particular the
// fatalPanic raised by our logger adapter for the server's Logger.Fatal
// calls - into errors.
func newServer(opts []temporal.ServerOption) (srv temporal.Server, err error) {
	defer recoverFatal(&err, "create server")
	srv, err = temporal.NewServer(opts...)
	if err != nil {
		return nil, fmt.Errorf("devstack: create server: %w", err)
	}
	return srv, nil
}

func startServer(srv temporal.Server) (err error) {
	defer recoverFatal(&err, "start server")
	if err := srv.Start(); err != nil {
		return fmt.Errorf("devstack: start server: %w", err)
	}
	return nil
}

func stopServer(srv temporal.Server) (err error) {
	defer recoverFatal(&err, "stop server")
	return srv.Stop()
}

func recoverFatal(err *error, what string) {
	r := recover()
	if r == nil {
		return
	}
	if f, ok := r.(fatalPanic); ok {
		*err = fmt.Errorf("devstack: %s: %w", what, f)
		return
	}
	// Any other panic is a server bug, but a dev tool should still report it
	// as an error instead of taking the caller's process down.
	*err = fmt.Errorf("devstack: %s: panic: %v", what, r)
}
