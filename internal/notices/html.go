package notices

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
)

// A notice as an email that inboxes accept and every reader can use: an HTML part with a
// plain-text alternative of the same words, in the voter's language (lang on the document),
// one column that reflows on a phone, real headings, text colors with at least 7:1 contrast,
// no images, and links that say where they go. The county names itself, says where answers
// go (Reply-To) and how to stop these emails (the same link as List-Unsubscribe).
//
// The notice's words are Render's; this file only lays them out. Every value (the voter's
// name, the county's name and help text, the reason a county gave) is escaped by
// html/template.

// EmailLinks are what a notice email's footer offers; an empty field is left out.
type EmailLinks struct {
	// Unsubscribe is the page that stops ballot notices by email for this voter (it asks to
	// confirm; the List-Unsubscribe header posts to the same URL).
	Unsubscribe string
	// Portal is the voter portal, where a voter changes how they hear about their ballot.
	Portal string
	// ReplyTo is the county office's contact address, the email's Reply-To.
	ReplyTo string
}

// Email is a notice rendered as an email.
type Email struct {
	Subject string
	Text    string // text/plain
	HTML    string // text/html, the same words laid out
	Version int64  // the version of the county's wording used; 0 for the catalog's alone (Message.Version)
}

// Colors of the email, with their contrast on white (WCAG 2 AAA asks for 7:1).
const (
	emailTextColor  = "#1b1b1b" // 17.2:1
	emailMutedColor = "#454545" // 9.6:1
	emailLinkColor  = "#1a4480" // 9.6:1
	emailRuleColor  = "#757575" // 4.6:1: a line, not text
)

// RenderEmail returns the notice about status as an email in lang (English when ballotflow
// has no catalog in lang), with Render's words, framed in the catalog's words (its email.*
// messages: headings, footer, link texts).
func RenderEmail(lang, status string, d Data, links EmailLinks) (Email, error) {
	full, err := Render(lang, status, d)
	if err != nil {
		return Email{}, err
	}
	bare := d
	bare.HelpText = ""
	notice, err := Render(lang, status, bare)
	if err != nil {
		return Email{}, err
	}
	c := shipped.catalog(lang)
	lang = c.Language // the language Render wrote in
	frame := templateData{Jurisdiction: d.Jurisdiction, Name: fullName(d.FirstName, d.LastName)}
	words := map[string]string{}
	for _, id := range []string{"email.questions", "email.write_to", "email.sent_by", "email.preferences", "email.stop"} {
		if words[id], err = shipped.text(c, id, frame); err != nil {
			return Email{}, err
		}
	}

	page := emailPage{
		Lang: lang, Subject: notice.Subject, Jurisdiction: d.Jurisdiction,
		Paragraphs: paragraphs(notice.Text), Help: strings.TrimSpace(d.HelpText),
		ReplyTo: links.ReplyTo, Portal: links.Portal, Unsubscribe: links.Unsubscribe,
		Questions: words["email.questions"], WriteTo: words["email.write_to"], SentBy: words["email.sent_by"],
		Preferences: words["email.preferences"], Stop: words["email.stop"],
	}
	var b bytes.Buffer
	if err := emailTemplate.Execute(&b, page); err != nil {
		return Email{}, fmt.Errorf("render email: %w", err)
	}

	text := strings.TrimSpace(full.Text)
	var foot []string
	if links.ReplyTo != "" {
		foot = append(foot, page.WriteTo+" "+links.ReplyTo)
	}
	foot = append(foot, page.SentBy)
	if links.Portal != "" {
		foot = append(foot, page.Preferences+": "+links.Portal)
	}
	if links.Unsubscribe != "" {
		foot = append(foot, page.Stop+": "+links.Unsubscribe)
	}
	text += "\n\n" + strings.Join(foot, "\n")
	return Email{Subject: notice.Subject, Text: text, HTML: b.String(), Version: max(full.EmailVersion, notice.EmailVersion)}, nil
}

// paragraphs splits text at blank lines.
func paragraphs(text string) []string {
	var out []string
	for _, p := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

type emailPage struct {
	Lang, Subject, Jurisdiction string
	Paragraphs                  []string
	Help, ReplyTo, Portal       string
	Unsubscribe                 string
	Questions, WriteTo, SentBy  string
	Preferences, Stop           string
}

// emailTemplate is one column, at most 600 pixels wide, with inline styles only (email
// clients drop <style> blocks and external sheets), whose colors are the constants above,
// written into the template before it is parsed. Void elements are closed (<meta ... />) so
// that the document is also well-formed XML, which the tests parse.
var emailTemplate = template.Must(template.New("email").Parse(strings.NewReplacer(
	"TEXT_COLOR", emailTextColor, "MUTED_COLOR", emailMutedColor, "LINK_COLOR", emailLinkColor, "RULE_COLOR", emailRuleColor,
).Replace(`<!DOCTYPE html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<meta name="color-scheme" content="light only" />
<title>{{.Subject}}</title>
</head>
<body style="margin:0; padding:0; background-color:#ffffff; color:TEXT_COLOR; font-family:Arial, Helvetica, sans-serif; font-size:16px; line-height:1.5;">
<div role="article" aria-label="{{.Subject}}" style="max-width:600px; margin:0 auto; padding:24px 16px; background-color:#ffffff;">
<p style="margin:0 0 8px 0; font-size:16px; font-weight:bold; color:TEXT_COLOR;">{{.Jurisdiction}}</p>
<h1 style="margin:0 0 16px 0; font-size:24px; line-height:1.25; color:TEXT_COLOR;">{{.Subject}}</h1>
{{range .Paragraphs}}<p style="margin:0 0 16px 0; font-size:16px; color:TEXT_COLOR;">{{.}}</p>
{{end}}{{if or .Help .ReplyTo}}<h2 style="margin:24px 0 8px 0; font-size:18px; line-height:1.3; color:TEXT_COLOR;">{{.Questions}}</h2>
{{if .Help}}<p style="margin:0 0 16px 0; font-size:16px; color:TEXT_COLOR;">{{.Help}}</p>
{{end}}{{if .ReplyTo}}<p style="margin:0 0 16px 0; font-size:16px; color:TEXT_COLOR;"><span>{{.WriteTo}}</span> <a href="mailto:{{.ReplyTo}}" style="color:LINK_COLOR; text-decoration:underline;">{{.ReplyTo}}</a></p>
{{end}}{{end}}<hr style="border:0; border-top:1px solid RULE_COLOR; margin:24px 0;" />
<footer style="font-size:14px; color:MUTED_COLOR;">
<p style="margin:0 0 12px 0; font-size:14px; color:MUTED_COLOR;">{{.SentBy}}</p>
{{if .Portal}}<p style="margin:0 0 12px 0; font-size:14px;"><a href="{{.Portal}}" style="color:LINK_COLOR; text-decoration:underline;">{{.Preferences}}</a></p>
{{end}}{{if .Unsubscribe}}<p style="margin:0 0 12px 0; font-size:14px;"><a href="{{.Unsubscribe}}" style="color:LINK_COLOR; text-decoration:underline;">{{.Stop}}</a></p>
{{end}}</footer>
</div>
</body>
</html>
`)))
