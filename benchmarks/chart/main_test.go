package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestChartReadsItsSeriesAndDrawsAPNG(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "series.csv")
	if err := os.WriteFile(in, []byte("second,events,outbox\n0,0,0\n1,12,24\n2,30,84\n3,5,94\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "chart.png")
	if err := run(in, out, "test"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != 900 || img.Bounds().Dy() != 420 {
		t.Fatalf("size %v", img.Bounds())
	}
}

func TestChartRefusesABadSeries(t *testing.T) {
	for _, s := range []string{"", "a,b,c\n1,2,3\n", "second,events,outbox\n0,0,0\n", "second,events,outbox\n0,0,0\n1,-2,3\n",
		"second,events,outbox\n0,0,0\n1,NaN,3\n", "second,events,outbox\n0,0\n"} {
		if _, err := readSeries(strings.NewReader(s)); err == nil {
			t.Errorf("%q: accepted", s)
		}
	}
}

// FuzzReadSeries: any input is read or refused, never a panic, never more than maxPoints.
func FuzzReadSeries(f *testing.F) {
	f.Add("second,events,outbox\n0,0,0\n1,12,24\n")
	f.Add("second,events,outbox\n0,1e308,0\n1,1,1\n")
	f.Fuzz(func(t *testing.T, s string) {
		pts, err := readSeries(strings.NewReader(s))
		if err == nil && (len(pts) < 2 || len(pts) > maxPoints) {
			t.Fatalf("%d points accepted", len(pts))
		}
	})
}
