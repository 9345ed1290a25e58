package opview

import (
	"embed"
	"fmt"
	"html/template"
	"strconv"
)

//go:embed templates/*.html
var templateFiles embed.FS

// templates are the pages, rendered by html/template: every value is
// escaped for its context (text, attribute, URL), so a key holding
// "<script>" shows as text.
var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"num":   formatInt,
	"bytes": formatBytes,
	"rate":  formatRate,
}).ParseFS(templateFiles, "templates/*.html"))

// formatInt writes an int or int64 with thousands separators: 1,234,567.
func formatInt(v any) string {
	var n int64
	switch v := v.(type) {
	case int:
		n = int64(v)
	case int64:
		n = v
	default:
		return fmt.Sprint(v)
	}
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// formatBytes writes a size in IEC units: 1.5 MiB.
func formatBytes(n int64) string {
	if n < 0 {
		return "unknown"
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// formatRate writes a per-second rate, or "—" when unknown.
func formatRate(r *float64) string {
	if r == nil {
		return "—"
	}
	return strconv.FormatFloat(*r, 'f', 1, 64) + "/s"
}
