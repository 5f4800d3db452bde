// Package tzdb resolves IANA time zone names from one copy of the time zone database kept
// in this repository (zoneinfo.zip, release 2025c, as Go 1.26 ships it), never from the host.
//
// Workflow code must compute the same instants on every worker and on every replay. Go's
// time.LoadLocation prefers the host's /usr/share/zoneinfo over the copy that time/tzdata
// embeds, so two workers on hosts with different tzdata packages (or one host before and
// after an update) could put a voter's 08:00 at different instants and fail replay. With
// tzdb, changing the data is a change to this repository: reviewed, and versioned in the
// workflow when it moves a rule that running ballots depend on.
//
// To update: copy $(go env GOROOT)/lib/time/zoneinfo.zip of a newer Go here and change the
// release named above.
package tzdb

import (
	"archive/zip"
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Release is the IANA release of the embedded data.
const Release = "2025c"

//go:embed zoneinfo.zip
var zoneinfo []byte

var (
	indexOnce sync.Once
	index     map[string]*zip.File
	indexErr  error
	cache     sync.Map // name → *time.Location
)

// ErrUnknownZone is returned for a name the database does not have.
var ErrUnknownZone = errors.New("unknown time zone")

// Load returns the location named name ("America/Denver"), as the embedded database
// defines it. "UTC" is time.UTC; "" and "Local" are refused, since they depend on the host.
func Load(name string) (*time.Location, error) {
	if name == "UTC" {
		return time.UTC, nil
	}
	if loc, ok := cache.Load(name); ok {
		return loc.(*time.Location), nil
	}
	if name == "" || name == "Local" || len(name) > 64 || strings.Contains(name, "..") {
		return nil, fmt.Errorf("%w %q", ErrUnknownZone, name)
	}
	indexOnce.Do(readIndex)
	if indexErr != nil {
		return nil, indexErr
	}
	f, ok := index[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownZone, name)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("tzdb: open %s: %w", name, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("tzdb: read %s: %w", name, err)
	}
	loc, err := time.LoadLocationFromTZData(name, data)
	if err != nil {
		return nil, fmt.Errorf("tzdb: %s: %w", name, err)
	}
	actual, _ := cache.LoadOrStore(name, loc)
	return actual.(*time.Location), nil
}

// Valid reports whether name is a zone of the embedded database.
func Valid(name string) bool {
	_, err := Load(name)
	return err == nil
}

func readIndex() {
	r, err := zip.NewReader(bytes.NewReader(zoneinfo), int64(len(zoneinfo)))
	if err != nil {
		indexErr = fmt.Errorf("tzdb: embedded zoneinfo.zip: %w", err)
		return
	}
	index = make(map[string]*zip.File, len(r.File))
	for _, f := range r.File {
		index[f.Name] = f
	}
}
