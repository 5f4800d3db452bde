package devstack

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

const (
	// clusterName is the single, local cluster. Its name is persisted in the
	// SQLite file (cluster metadata, namespace replication config), so it must
	// never change for an existing DataDir.
	clusterName = "active"
	// dataStoreName keys the one SQLite store used for both the default
	// (executions, history, queues) and the visibility persistence.
	dataStoreName = "sqlite-default"
	// dbFileName is the SQLite file inside Options.DataDir.
	dbFileName = "temporal.db"
)

// serverPorts are the ports of the four Temporal services. Only the frontend
// (gRPC + HTTP API) is meant for clients; history, matching and worker are
// internal and always get a free port on loopback.
type serverPorts struct {
	frontendIP   string // bind IP of the frontend (Options.IP)
	frontendGRPC int
	frontendHTTP int
	internalIP   string // loopback the internal services bind to
	history      int
	matching     int
	worker       int
}

func (p serverPorts) frontendAddr() string {
	return net.JoinHostPort(connectIP(p.frontendIP), strconv.Itoa(p.frontendGRPC))
}

func (p serverPorts) frontendHTTPAddr() string {
	return net.JoinHostPort(connectIP(p.frontendIP), strconv.Itoa(p.frontendHTTP))
}

func (p serverPorts) internalAddr(port int) string {
	return net.JoinHostPort(p.internalIP, strconv.Itoa(port))
}

// sqlConfig returns the SQLite persistence config and makes sure the database
// holds the schema. For a file database the schema is created only when the
// file does not exist yet; an existing file is reused as-is, which is what
// keeps workflows alive across restarts. An in-memory database gets its schema
// from the SQLite plugin itself when the first connection is opened.
func sqlConfig(dbPath string) (*config.SQL, error) {
	if dbPath == "" {
		return &config.SQL{
			PluginName: sqliteplugin.PluginName,
			// A random name per stack: the plugin keeps every database it ever
			// opened in a process-wide pool (it never closes them), so reusing a
			// name would hand a "fresh" stack the state of an older one.
			DatabaseName:      "devstack-" + strconv.FormatUint(rand.Uint64(), 36),
			ConnectAttributes: map[string]string{"mode": "memory", "cache": "shared"},
		}, nil
	}

	cfg := &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: dbPath,
		// rwc = read/write, create if missing.
		ConnectAttributes: map[string]string{"mode": "rwc"},
	}
	_, err := os.Stat(dbPath)
	switch {
	case err == nil:
		return cfg, nil // existing database: reuse, never re-run the schema
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("devstack: stat sqlite file: %w", err)
	}
	if err := sqliteschema.SetupSchema(cfg); err != nil {
		// Do not leave a half-initialised file behind: the next start would
		// see it, skip the schema and fail in confusing ways.
		_ = os.Remove(dbPath)
		return nil, fmt.Errorf("devstack: create sqlite schema: %w", err)
	}
	return cfg, nil
}

// ensureNamespace writes the namespace straight into the database before the
// server starts, like the Temporal CLI does. Doing it before start means the
// namespace is in the server's namespace registry from the first moment
// (registering it over gRPC afterwards would race the registry's refresh).
// The helper is a no-op when a namespace with that name already exists, so a
// restart reuses it (including any search attributes added to it later).
func ensureNamespace(sqlCfg *config.SQL, name string, retention time.Duration) error {
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, name, false, nil)
	if err != nil {
		return fmt.Errorf("devstack: build namespace config: %w", err)
	}
	ns.Detail.Info.Description = "created by ballotflow devstack"
	ns.Detail.Config.Retention = durationpb.New(retention)
	if err := sqliteschema.CreateNamespaces(sqlCfg, ns); err != nil {
		return fmt.Errorf("devstack: create namespace %q: %w", name, err)
	}
	return nil
}

// buildServerConfig is the static server configuration: one of each service in
// this process, SQLite for everything, no archival, no global namespaces.
func buildServerConfig(sqlCfg *config.SQL, ports serverPorts) *config.Config {
	var conf config.Config

	// Membership is static (see serverOptions), so no ringpop ports are needed;
	// the broadcast address must still be a dialable IP.
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Global.Membership.BroadcastAddress = ports.internalIP
	// Metrics stay nil: a nil metrics config means a no-op handler and no
	// Prometheus listener (= one port fewer to manage). PProf port 0 = off.

	conf.Persistence.DefaultStore = dataStoreName
	// Visibility on SQLite as well: the SQLite visibility schema has
	// pre-allocated custom search attribute columns (Keyword01..Keyword10,
	// Int01.., ...), which is what makes AddSearchAttributes and list filters
	// such as `BallotStatus = "Accepted"` work in the UI.
	conf.Persistence.VisibilityStore = dataStoreName
	// One shard is plenty for dev and this value is fixed forever once the
	// database exists.
	conf.Persistence.NumHistoryShards = 1
	conf.Persistence.DataStores = map[string]config.DataStore{dataStoreName: {SQL: sqlCfg}}

	conf.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				// Addresses are refreshed in the persisted cluster metadata on
				// every start, so changing ports between restarts is fine.
				RPCAddress:  ports.frontendAddr(),
				HTTPAddress: ports.frontendHTTPAddr(),
				// ClusterID left empty: the server generates one on first
				// start and keeps the persisted one afterwards.
			},
		},
	}
	conf.DCRedirectionPolicy.Policy = "noop"

	conf.Services = map[string]config.Service{
		string(primitives.FrontendService): {RPC: config.RPC{
			BindOnIP: ports.frontendIP,
			GRPCPort: ports.frontendGRPC,
			HTTPPort: ports.frontendHTTP,
		}},
		string(primitives.HistoryService):  {RPC: config.RPC{BindOnIP: ports.internalIP, GRPCPort: ports.history}},
		string(primitives.MatchingService): {RPC: config.RPC{BindOnIP: ports.internalIP, GRPCPort: ports.matching}},
		string(primitives.WorkerService):   {RPC: config.RPC{BindOnIP: ports.internalIP, GRPCPort: ports.worker}},
	}

	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"

	// The worker service (system workflows: scheduler, batch operations,
	// namespace deletion) talks to the frontend like any SDK client would. The
	// server refuses to start without it.
	conf.PublicClient.HostPort = ports.frontendAddr()
	return &conf
}

// dynamicConfig holds the few dev-only overrides, and one partition for each of
// singlePartition (see Options.SinglePartitionTaskQueues). Everything else keeps
// the server defaults on purpose, so behaviour matches a real cluster.
func dynamicConfig(singlePartition []string) dynamicconfig.StaticClient {
	dc := dynamicconfig.StaticClient{
		// The Temporal UI polls list/count workflow APIs for every open tab;
		// the default of 10 visibility requests/s per namespace is easily hit
		// and shows up as "namespace rate limit exceeded" in the UI.
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
		// The default host-level mutable state cache (128k entries) is sized
		// for production hosts; a dev stack does not need that memory.
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key(): 8096,
	}
	if len(singlePartition) > 0 {
		// Read and write partitions alike: a task written to a partition nobody reads
		// would wait forever.
		var one []dynamicconfig.ConstrainedValue
		for _, q := range singlePartition {
			one = append(one, dynamicconfig.ConstrainedValue{Constraints: dynamicconfig.Constraints{TaskQueueName: q}, Value: 1})
		}
		dc[dynamicconfig.MatchingNumTaskqueueReadPartitions.Key()] = one
		dc[dynamicconfig.MatchingNumTaskqueueWritePartitions.Key()] = one
	}
	return dc
	// Not overridden: search attribute limits. With SQL visibility the
	// number of custom search attributes per namespace is bounded by the
	// pre-allocated columns of the SQLite schema (10 Keyword, 3 Text, 3 Int,
	// 3 Double, 3 Bool, 3 Datetime, 3 KeywordList), not by dynamic config.
	// frontend.searchAttributesNumberOfKeysLimit (100 keys per workflow)
	// is already generous.
}

// serverOptions assembles the temporal.NewServer options.
func serverOptions(conf *config.Config, ports serverPorts, logger serverLogger, singlePartition []string) []temporal.ServerOption {
	return []temporal.ServerOption{
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.DefaultServices),
		// Static membership instead of ringpop: all services live in this
		// process, so gossip buys nothing but extra ports and a slower start
		// (ringpop waits to join its ring). Each service gets exactly one host.
		temporal.WithStaticHosts(map[primitives.ServiceName]static.Hosts{
			primitives.FrontendService: static.SingleLocalHost(ports.frontendAddr()),
			primitives.HistoryService:  static.SingleLocalHost(ports.internalAddr(ports.history)),
			primitives.MatchingService: static.SingleLocalHost(ports.internalAddr(ports.matching)),
			primitives.WorkerService:   static.SingleLocalHost(ports.internalAddr(ports.worker)),
		}),
		temporal.WithLogger(logger),
		// No auth in a dev stack. Set explicitly so the frontend does not
		// depend on implicit defaults.
		temporal.WithAuthorizer(authorization.NewNoopAuthorizer()),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper {
			return authorization.NewNoopClaimMapper()
		}),
		temporal.WithDynamicConfigClient(dynamicConfig(singlePartition)),
	}
}
