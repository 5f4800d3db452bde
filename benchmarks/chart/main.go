// Command chart draws a mail-out benchmark's time series as a PNG: events completed per
// second (a voter's event is complete when all its notices are in the outbox) and the
// outbox's size, against seconds since the round began. The series is the CSV that
// BenchmarkMailOutDayToTheOutbox writes when BALLOTFLOW_BENCH_SERIES names a file:
//
//	second,events,outbox
//	0,0,0
//	1,12,24
//
//	go run ./benchmarks/chart -in series.csv -out benchmarks/mailout.png -title "..."
package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"os"
	"strconv"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

type point struct{ second, events, outbox float64 }

const maxPoints = 100_000 // a day of seconds is plenty; the file is ours but still bounded

func main() {
	in := flag.String("in", "", "the series CSV (second,events,outbox)")
	out := flag.String("out", "", "the PNG to write")
	title := flag.String("title", "Mail-out day to the outbox", "the chart's title")
	flag.Parse()
	if err := run(*in, *out, *title); err != nil {
		fmt.Fprintln(os.Stderr, "chart:", err)
		os.Exit(1)
	}
}

func run(in, out, title string) error {
	if in == "" || out == "" {
		return errors.New("name the series with -in and the PNG with -out")
	}
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	pts, err := readSeries(f)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	img := draw2(pts, title)
	w, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := png.Encode(w, img); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// readSeries reads the CSV: a header, then one row a second.
func readSeries(r io.Reader) ([]point, error) {
	cr := csv.NewReader(io.LimitReader(r, 8<<20))
	cr.FieldsPerRecord = 3
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if head[0] != "second" || head[1] != "events" || head[2] != "outbox" {
		return nil, fmt.Errorf("header %q: want second,events,outbox", head)
	}
	var pts []point
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		var p [3]float64
		for i, s := range rec {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
				return nil, fmt.Errorf("line %d, column %d: not a count", line, i+1)
			}
			p[i] = v
		}
		if pts = append(pts, point{p[0], p[1], p[2]}); len(pts) > maxPoints {
			return nil, fmt.Errorf("more than %d rows", maxPoints)
		}
	}
	if len(pts) < 2 {
		return nil, errors.New("fewer than two rows")
	}
	return pts, nil
}

var (
	white  = color.RGBA{255, 255, 255, 255}
	ink    = color.RGBA{40, 40, 40, 255}
	grid   = color.RGBA{225, 225, 225, 255}
	blue   = color.RGBA{31, 100, 180, 255} // events/s, left axis
	orange = color.RGBA{214, 110, 20, 255} // outbox, right axis
)

// draw2 lays out the chart: events/s as bars on the left axis, the outbox as a line on
// the right axis.
func draw2(pts []point, title string) *image.RGBA {
	const W, H, left, right, top, bottom = 900, 420, 70, 80, 40, 50
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	draw.Draw(img, img.Bounds(), &image.Uniform{white}, image.Point{}, draw.Src)
	maxT, maxE, maxO := 1.0, 1.0, 1.0
	for _, p := range pts {
		maxT, maxE, maxO = math.Max(maxT, p.second), math.Max(maxE, p.events), math.Max(maxO, p.outbox)
	}
	maxE, maxO = nice(maxE), nice(maxO)
	pw, ph := float64(W-left-right), float64(H-top-bottom)
	x := func(t float64) int { return left + int(t/maxT*pw) }
	yE := func(v float64) int { return H - bottom - int(v/maxE*ph) }
	yO := func(v float64) int { return H - bottom - int(v/maxO*ph) }

	for i := 0; i <= 5; i++ {
		y := H - bottom - int(float64(i)/5*ph)
		hline(img, left, W-right, y, grid)
		text(img, 4, y+4, fmt.Sprintf("%6.0f", maxE*float64(i)/5), blue)
		text(img, W-right+6, y+4, fmt.Sprintf("%.0f", maxO*float64(i)/5), orange)
	}
	for i := 0; i <= 6; i++ {
		t := maxT * float64(i) / 6
		text(img, x(t)-10, H-bottom+16, fmt.Sprintf("%.0fs", t), ink)
	}
	hline(img, left, W-right, H-bottom, ink)
	vline(img, left, top, H-bottom, ink)
	vline(img, W-right, top, H-bottom, ink)

	barW := max(1, int(pw/maxT)-1)
	for _, p := range pts {
		for y := yE(p.events); y < H-bottom; y++ {
			hline(img, x(p.second), x(p.second)+barW, y, blue)
		}
	}
	for i := 1; i < len(pts); i++ {
		line(img, x(pts[i-1].second), yO(pts[i-1].outbox), x(pts[i].second), yO(pts[i].outbox), orange)
	}
	text(img, left, 22, title, ink)
	text(img, 4, H-12, "bars: events completed per second (left)", blue)
	text(img, 380, H-12, "line: messages in the outbox (right)", orange)
	return img
}

// nice rounds v up to 1, 2 or 5 times a power of ten.
func nice(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func hline(img *image.RGBA, x0, x1, y int, c color.Color) {
	for x := x0; x <= x1; x++ {
		img.Set(x, y, c)
	}
}

func vline(img *image.RGBA, x, y0, y1 int, c color.Color) {
	for y := y0; y <= y1; y++ {
		img.Set(x, y, c)
	}
}

// line draws a two-pixel line from (x0,y0) to (x1,y1).
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.Color) {
	steps := max(abs(x1-x0), abs(y1-y0), 1)
	for i := 0; i <= steps; i++ {
		x := x0 + (x1-x0)*i/steps
		y := y0 + (y1-y0)*i/steps
		img.Set(x, y, c)
		img.Set(x, y-1, c)
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func text(img *image.RGBA, x, y int, s string, c color.Color) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}
