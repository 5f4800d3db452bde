package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ballotflow/ballotflow/internal/codec"
	"github.com/ballotflow/ballotflow/internal/config"
)

// ClientPayloadCodec returns the payload codec a command-line client of a running deployment
// uses to start workflows: PAYLOAD_KEYS when set, else the key `ballotflow dev` keeps in
// DEV_DATA_DIR. It never makes a key: payloads sealed with a key the workers do not have
// could not be read.
func ClientPayloadCodec(cfg config.Config) (*codec.Codec, error) {
	if cfg.PayloadKeys != "" {
		return PayloadCodec(cfg)
	}
	b, err := os.ReadFile(filepath.Join(cfg.DevDataDir, "payload-keys"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, errors.New("PAYLOAD_KEYS is not set (and no dev stack key is in " + cfg.DevDataDir + ")")
	}
	if err != nil {
		return nil, fmt.Errorf("read the dev stack's payload key: %w", err)
	}
	return codec.Parse(strings.TrimSpace(string(b)))
}
