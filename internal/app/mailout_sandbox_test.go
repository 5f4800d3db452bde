package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ballotflow/ballotflow/apiserver"
	"github.com/ballotflow/ballotflow/internal/config"
	"github.com/ballotflow/ballotflow/internal/sandbox"
)

// sandboxChildEnv names the API URL a re-executed test binary serves the sandbox providers
// for: with it set, this binary is not a test run but the benchmark's sandbox process.
const sandboxChildEnv = "BALLOTFLOW_BENCH_SANDBOX_FOR_API"

// The sandbox process of BenchmarkMailOutDayToTheOutbox is this test binary run again with
// sandboxChildEnv set. It is the sandbox `ballotflow dev` runs in-process (same options:
// SendGrid events and inbound texts posted, signed, to the API, with the bench's /bench/accepted
// counter beside it), so the work measured is the same as in dev; BenchmarkMailOutDayCluster
// runs `ballotflow sandbox` itself, with SANDBOX_SENDGRID_SIGNING_KEY so that it posts the
// same events. It runs here, before the tests' flags are parsed, and exits.
func init() {
	if api := os.Getenv(sandboxChildEnv); api != "" {
		if err := runSandboxChild(api); err != nil {
			fmt.Fprintln(os.Stderr, "bench sandbox:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// sandboxChildHello is the one line the sandbox process writes to its stdout when it listens.
type sandboxChildHello struct {
	URL            string `json:"url"`
	SendGridPubKey string `json:"sendgrid_public_key"`
}

// runSandboxChild serves the sandbox providers on a free loopback port until its stdin
// closes (the benchmark ends or dies). Beside the sandbox's own handler it serves GET
// /bench/accepted: how many provider requests it answered 2xx, a counter, so that the
// benchmark waits for the outbox without encoding it again and again (it reads the outbox
// itself over GET /dev/outbox once the count is reached).
func runSandboxChild(apiURL string) error {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).
		With("component", "bench-sandbox")
	sb, err := sandbox.New(sandbox.Options{
		TwilioAccountSID: config.SandboxTwilioAccountSID, TwilioAuthToken: config.SandboxTwilioAuthToken,
		SendGridAPIKey: config.SandboxSendGridAPIKey, Logger: logger,
		SendGridEventWebhookURL: apiURL + apiserver.PathSendGridEvents,
		TwilioInboundSMSURL:     apiURL + apiserver.PathTwilioSMS,
	})
	if err != nil {
		return err
	}
	defer sb.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	var accepted atomic.Int64
	inner := sb.Handler()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /bench/accepted", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, accepted.Load())
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || strings.HasPrefix(r.URL.Path, "/dev/") {
			inner.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		inner.ServeHTTP(sw, r)
		if sw.status >= 200 && sw.status < 300 {
			accepted.Add(1)
		}
	})
	hello, _ := json.Marshal(sandboxChildHello{URL: "http://" + ln.Addr().String(), SendGridPubKey: sb.SendGridPublicKeyBase64()})
	if _, err := fmt.Fprintf(os.Stdout, "%s\n", hello); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		io.Copy(io.Discard, os.Stdin) // returns when the benchmark closes our stdin or exits
		cancel()
	}()
	return apiserver.Serve(ctx, ln, mux)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// benchSandbox is the benchmark's sandbox process.
type benchSandbox struct {
	url    string
	pid    int
	client *http.Client
}

// startSandboxProcess runs the sandbox providers in a process of their own, posting their
// webhooks to apiURL, and stops it when the benchmark ends (after the dev stack, whose
// cleanup is registered later).
func startSandboxProcess(tb testing.TB, apiURL string) (*benchSandbox, string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), sandboxChildEnv+"="+apiURL)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, "", err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	tb.Cleanup(func() {
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err != nil {
		return nil, "", fmt.Errorf("sandbox process said nothing: %w", err)
	}
	var hello sandboxChildHello
	if err := json.Unmarshal(line, &hello); err != nil {
		return nil, "", fmt.Errorf("sandbox process said %q: %w", line, err)
	}
	return &benchSandbox{url: hello.URL, pid: cmd.Process.Pid, client: &http.Client{Timeout: time.Minute}},
		hello.SendGridPubKey, nil
}

// cpu is the sandbox process's user and system CPU so far, from /proc/<pid>/stat.
func (s *benchSandbox) cpu() time.Duration { return procCPU(fmt.Sprintf("/proc/%d", s.pid), false) }

// accepted is how many provider requests the sandbox has answered 2xx since it started.
func (s *benchSandbox) accepted() (int, error) {
	resp, err := s.client.Get(s.url + "/bench/accepted")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(bytes.TrimSpace(body)))
}

// outbox reads the sandbox outbox over its HTTP API (GET /dev/outbox).
func (s *benchSandbox) outbox() ([]sandboxMessage, error) {
	resp, err := s.client.Get(s.url + "/dev/outbox")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /dev/outbox answered %s", resp.Status)
	}
	var out []struct {
		Channel    string    `json:"channel"`
		To         string    `json:"to"`
		ReceivedAt time.Time `json:"received_at"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	msgs := make([]sandboxMessage, len(out))
	for i, m := range out {
		msgs[i] = sandboxMessage{channel: m.Channel, to: m.To, at: m.ReceivedAt}
	}
	return msgs, nil
}

// resetOutbox clears the sandbox outbox (DELETE /dev/outbox).
func (s *benchSandbox) resetOutbox() error {
	req, err := http.NewRequest(http.MethodDelete, s.url+"/dev/outbox", nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("DELETE /dev/outbox answered %s", resp.Status)
	}
	return nil
}
