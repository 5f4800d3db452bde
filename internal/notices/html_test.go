package notices_test

import (
	"encoding/xml"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ballotflow/ballotflow/internal/notices"
)

// htmlNode is an element of a parsed email, with its text (children's included).
type htmlNode struct {
	Name     string
	Attr     map[string]string
	Text     string
	Children []*htmlNode
}

func (n *htmlNode) all(name string) []*htmlNode {
	var out []*htmlNode
	for _, c := range n.Children {
		if c.Name == name {
			out = append(out, c)
		}
		out = append(out, c.all(name)...)
	}
	return out
}

// parseEmailHTML reads an email's HTML as the XML it is written to also be (void elements
// closed), with HTML's entities; it fails on markup that is not well-formed.
func parseEmailHTML(t *testing.T, doc string) *htmlNode {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(doc))
	dec.Entity = xml.HTMLEntity
	root := &htmlNode{Name: "#document"}
	stack := []*htmlNode{root}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, doc)
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &htmlNode{Name: tok.Name.Local, Attr: map[string]string{}}
			for _, a := range tok.Attr {
				n.Attr[a.Name.Local] = a.Value
			}
			stack[len(stack)-1].Children = append(stack[len(stack)-1].Children, n)
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			for _, n := range stack {
				n.Text += string(tok)
			}
		}
	}
	require.Len(t, stack, 1, "every element is closed")
	return root
}

func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestRenderEmailIsAccessibleHTMLWithAPlainTextTwin(t *testing.T) {
	d := notices.Data{FirstName: "José", LastName: "Núñez", Jurisdiction: "Denver Elections Division",
		HelpText: "Questions? Call 720-555-0100.", Reason: "signature missing", CureDeadline: "2026-11-12"}
	links := notices.EmailLinks{Unsubscribe: "https://ballots.example.org/v1/unsubscribe/tok123",
		Portal: "https://ballots.example.org/", ReplyTo: "elections@denver.example.org"}
	e, err := notices.RenderEmail("es", "challenged", d, links)
	require.NoError(t, err)
	msg, err := notices.Render("es", "challenged", d)
	require.NoError(t, err)

	require.Equal(t, msg.Subject, e.Subject)
	require.True(t, strings.HasPrefix(e.Text, msg.Text), "the plain text is the notice, then the footer:\n%s", e.Text)
	require.Contains(t, e.Text, "elections@denver.example.org")
	require.Contains(t, e.Text, links.Unsubscribe)
	require.Contains(t, e.Text, links.Portal)
	require.NotContains(t, e.Text, "<", "plain text has no markup")

	require.True(t, strings.HasPrefix(e.HTML, "<!DOCTYPE html>"))
	doc := parseEmailHTML(t, e.HTML)
	html := doc.all("html")
	require.Len(t, html, 1)
	require.Equal(t, "es", html[0].Attr["lang"])
	require.Equal(t, msg.Subject, doc.all("title")[0].Text)
	h1 := doc.all("h1")
	require.Len(t, h1, 1, "one main heading")
	require.Equal(t, msg.Subject, h1[0].Text)
	require.Equal(t, "¿Preguntas?", doc.all("h2")[0].Text)
	require.Empty(t, doc.all("img"), "no images needed")
	for _, table := range doc.all("table") {
		require.Equal(t, "presentation", table.Attr["role"], "layout tables are presentation only")
	}

	body := squash(doc.all("body")[0].Text)
	bare, err := notices.Render("es", "challenged", notices.Data{FirstName: d.FirstName, LastName: d.LastName,
		Jurisdiction: d.Jurisdiction, Reason: d.Reason, CureDeadline: d.CureDeadline})
	require.NoError(t, err)
	require.Contains(t, body, squash(bare.Text), "the HTML says what the text says")
	require.Contains(t, body, d.HelpText)
	require.Contains(t, body, "12 de noviembre de 2026")

	links2 := map[string]string{}
	for _, a := range doc.all("a") {
		text := squash(a.Text)
		require.NotEmpty(t, text)
		require.NotRegexp(t, `(?i)^(click here|here|aquí|haga clic aquí|link|enlace)$`, text, "links say where they go")
		links2[a.Attr["href"]] = text
	}
	require.Equal(t, map[string]string{
		"mailto:elections@denver.example.org": "elections@denver.example.org",
		links.Portal:                          "Cambiar cómo recibe los avisos de su boleta",
		links.Unsubscribe:                     "Dejar de recibir por correo electrónico los avisos de la boleta de José Núñez",
	}, links2)
}

func TestRenderEmailEscapesWhatCountiesAndRollsSay(t *testing.T) {
	d := notices.Data{FirstName: `<script>alert("x")</script>`, LastName: `O'Brien & "Sons"`,
		Jurisdiction: `Dewey & <b>Cheatem</b> County`, HelpText: `<a href="javascript:alert(1)">call</a>`,
		Reason: `<img src=x onerror=alert(1)>`}
	e, err := notices.RenderEmail("en", "rejected", d, notices.EmailLinks{
		Unsubscribe: "javascript:alert(1)", Portal: "https://ballots.example.org/?a=1&b=2", ReplyTo: `x@example.org"><script>`})
	require.NoError(t, err)
	for _, bad := range []string{"<script", "<b>", "<img", `href="javascript:`, `<a href="javascript`} {
		require.NotContains(t, e.HTML, bad)
	}
	doc := parseEmailHTML(t, e.HTML)
	require.Contains(t, squash(doc.all("body")[0].Text), `The ballot of <script>alert("x")</script> O'Brien & "Sons" could not be counted`,
		"escaped, the text reads as the county gave it")
	require.Contains(t, doc.all("body")[0].Text, "Dewey & <b>Cheatem</b> County")
	for _, a := range doc.all("a") {
		require.NotContains(t, a.Attr["href"], "javascript:", "html/template neutralises unsafe URLs")
	}
}

// The words around a notice (headings, footer, link texts) come from the notice's catalog,
// in every language: a Vietnamese email is Vietnamese throughout, and names its voter.
func TestRenderEmailFramesTheNoticeInItsLanguage(t *testing.T) {
	d := notices.Data{FirstName: "Minh", LastName: "Nguyen", Jurisdiction: "Orange County", HelpText: "Call us."}
	links := notices.EmailLinks{Unsubscribe: "https://x.example/u/1", Portal: "https://x.example/", ReplyTo: "v@x.example"}
	for lang, want := range map[string][]string{
		"vi":      {"Có thắc mắc?", "Ngừng nhận thông báo về lá phiếu của Minh Nguyen qua email"},
		"ko":      {"문의 사항이 있으신가요?", "Minh Nguyen 님의 투표용지 이메일 알림 중지"},
		"zh-Hant": {"有問題嗎？", "停止以電子郵件接收 Minh Nguyen 的選票通知"},
		"tl":      {"May tanong?", "Itigil ang mga abiso sa email tungkol sa balota ni Minh Nguyen"},
	} {
		e, err := notices.RenderEmail(lang, "received", d, links)
		require.NoError(t, err)
		doc := parseEmailHTML(t, e.HTML)
		require.Equal(t, lang, doc.all("html")[0].Attr["lang"])
		require.Equal(t, want[0], doc.all("h2")[0].Text, lang)
		require.Contains(t, e.HTML, want[1], lang)
		require.Contains(t, e.Text, want[1]+": https://x.example/u/1", lang)
		require.NotContains(t, e.Text, "Write to your election office", lang)
	}
}

func TestRenderEmailMarksWordingThatFallsBackToEnglish(t *testing.T) {
	d := notices.Data{FirstName: "Ana", LastName: "Smith", Jurisdiction: "Denver", HelpText: "Call us."}
	e, err := notices.RenderEmail("xx", "received", d, notices.EmailLinks{Unsubscribe: "https://x.example/u/1"})
	require.NoError(t, err)
	doc := parseEmailHTML(t, e.HTML)
	require.Equal(t, "en", doc.all("html")[0].Attr["lang"], "a language without notices is English, and says so")
	for _, f := range doc.all("footer") {
		require.Empty(t, f.Attr["lang"], "the footer's wording is the document's language")
	}
	require.NotContains(t, e.Text, "Write to", "no reply-to, no line about it")

	_, err = notices.RenderEmail("en", "no-such-status", d, notices.EmailLinks{})
	require.Error(t, err)
}

// The email's colors keep WCAG's AAA contrast (7:1) for text on its white background.
func TestRenderEmailTextContrast(t *testing.T) {
	e, err := notices.RenderEmail("en", "counted", notices.Data{FirstName: "A", LastName: "B", Jurisdiction: "C",
		HelpText: "D"}, notices.EmailLinks{Unsubscribe: "https://x.example/u", Portal: "https://x.example/", ReplyTo: "c@x.example"})
	require.NoError(t, err)
	colors := regexp.MustCompile(`(?:^|[ ;"])color:\s*(#[0-9a-fA-F]{6})`).FindAllStringSubmatch(e.HTML, -1)
	require.NotEmpty(t, colors)
	for _, c := range colors {
		require.GreaterOrEqual(t, contrastOnWhite(c[1]), 7.0, c[1])
	}
	require.Contains(t, e.HTML, "background-color:#ffffff")
}

func contrastOnWhite(hex string) float64 {
	var l float64
	for i, w := range []float64{0.2126, 0.7152, 0.0722} {
		v, _ := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		c := float64(v) / 255
		if c <= 0.03928 {
			c /= 12.92
		} else {
			c = math.Pow((c+0.055)/1.055, 2.4)
		}
		l += w * c
	}
	return 1.05 / (l + 0.05)
}
