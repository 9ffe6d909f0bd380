package pypi

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pysumdb/pysumdb/tiles"
)

// Change is one row of PyPI's changelog.
type Change struct {
	// Project is the normalized project name.
	Project string
	// Version is the release concerned, or "" for a change of the whole
	// project ("create", "remove project").
	Version string
	// Time is when the change happened.
	Time time.Time
	// Action is PyPI's description, e.g. "create", "new release",
	// "add py3 file foo-1.0-py3-none-any.whl", "remove file ...",
	// "remove project".
	Action string
	// Serial is the change's serial, increasing along the changelog.
	Serial int64
}

// actionRemoveProject is the changelog action of a deleted project.
const actionRemoveProject = "remove project"

// LastSerial returns the serial of the newest change
// (changelog_last_serial).
func (c *Client) LastSerial(ctx context.Context) (int64, error) {
	v, err := c.xmlrpcCall(ctx, "changelog_last_serial")
	if err != nil {
		return 0, err
	}
	serial, ok := v.(int64)
	if !ok || serial < 0 {
		return 0, malformed("changelog_last_serial returned %v", v)
	}
	return serial, nil
}

// ChangelogSince returns changes with a serial above since
// (changelog_since_serial), in serial order. PyPI caps the number of rows
// per answer: call again from the last serial until an empty answer.
func (c *Client) ChangelogSince(ctx context.Context, since int64) ([]Change, error) {
	v, err := c.xmlrpcCall(ctx, "changelog_since_serial", since)
	if err != nil {
		return nil, err
	}
	return changelogRows(v, since)
}

// SerialAt returns the serial of the last change PyPI made at or before
// t: following the changelog from it reads every change made after t.
// PyPI has turned off changelog(since), which took a time, so SerialAt
// bisects the serials with changelog_since_serial, using every row of
// each answer: about log2(changes after t / rows per answer) calls, a dozen
// on PyPI for an export some days old. It assumes that the changelog's
// times don't go backwards, which holds on PyPI to within seconds; callers
// give t with a margin. 0 when every change is later than t.
func (c *Client) SerialAt(ctx context.Context, t time.Time) (int64, error) {
	last, err := c.LastSerial(ctx)
	if err != nil {
		return 0, err
	}
	// Every change up to lo was made at or before t; the first change
	// after hi was made after t, or there is none.
	lo, hi := int64(0), last
	for lo < hi {
		mid := lo + (hi-lo)/2
		rows, err := c.ChangelogSince(ctx, mid)
		if err != nil {
			return 0, err
		}
		later := slices.IndexFunc(rows, func(ch Change) bool { return ch.Time.After(t) })
		switch {
		case later == 0 || len(rows) == 0:
			hi = mid
		case later > 0:
			return rows[later-1].Serial, nil
		default:
			// The answer ends at or before t; a row past hi would
			// contradict what the answer at hi said.
			lo = min(rows[len(rows)-1].Serial, hi)
		}
	}
	return lo, nil
}

// xmlrpcCall calls method with int arguments and returns its decoded
// result.
func (c *Client) xmlrpcCall(ctx context.Context, method string, args ...int64) (any, error) {
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\"?>\n<methodCall><methodName>" + method + "</methodName><params>")
	for _, a := range args {
		b.WriteString("<param><value><int>" + strconv.FormatInt(a, 10) + "</int></value></param>")
	}
	b.WriteString("</params></methodCall>\n")
	endpoint := c.cfg.BaseURL + "/pypi"
	req := request{
		method: http.MethodPost,
		url:    endpoint,
		header: http.Header{"Content-Type": {"text/xml"}},
		body:   []byte(b.String()),
	}
	v, err := do(ctx, c, req, func(resp *http.Response, body []byte) (any, error) {
		if resp.StatusCode != http.StatusOK {
			return nil, malformed("%s %s: unexpected %s", endpoint, method, resp.Status)
		}
		v, err := parseMethodResponse(body)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", endpoint, method, err)
		}
		return v, nil
	})
	if statusErr, ok := errors.AsType[*StatusError](err); ok && refusedStatus(statusErr.Code) {
		return nil, fmt.Errorf("%w: %w", ErrXMLRPCUnavailable, err)
	}
	return v, err
}

// refusedStatus reports whether an HTTP status means the XML-RPC API is
// turned off rather than failing for a moment.
func refusedStatus(code int) bool {
	switch code {
	case http.StatusForbidden, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusGone, http.StatusNotImplemented:
		return true
	}
	return false
}

// xmlValue is an XML-RPC <value>, decoded by encoding/xml.
type xmlValue struct {
	Text   string     `xml:",chardata"`
	String *string    `xml:"string"`
	Int    *string    `xml:"int"`
	I4     *string    `xml:"i4"`
	I8     *string    `xml:"i8"`
	Nil    *struct{}  `xml:"nil"`
	Array  *xmlArray  `xml:"array"`
	Struct *xmlStruct `xml:"struct"`
	// Other catches types the changelog never uses (boolean, double,
	// base64, dateTime.iso8601), which are rejected.
	Other []struct {
		XMLName xml.Name
	} `xml:",any"`
}

type xmlArray struct {
	Values []xmlValue `xml:"data>value"`
}

type xmlStruct struct {
	Members []struct {
		Name  string   `xml:"name"`
		Value xmlValue `xml:"value"`
	} `xml:"member"`
}

type xmlMethodResponse struct {
	XMLName xml.Name   `xml:"methodResponse"`
	Params  []xmlValue `xml:"params>param>value"`
	Fault   *xmlValue  `xml:"fault>value"`
}

// parseMethodResponse decodes an XML-RPC answer into its single result:
// string, int64, nil, []any or map[string]any. A fault is
// ErrXMLRPCUnavailable, except PyPI's rate limiting fault, which is
// retried.
func parseMethodResponse(body []byte) (any, error) {
	var resp xmlMethodResponse
	if err := xml.Unmarshal(body, &resp); err != nil {
		return nil, malformed("XML-RPC answer: %v", err)
	}
	if resp.Fault != nil {
		if len(resp.Params) != 0 {
			return nil, malformed("XML-RPC answer has both a fault and a result")
		}
		v, err := resp.Fault.decode()
		if err != nil {
			return nil, err
		}
		fault, _ := v.(map[string]any)
		message, ok := fault["faultString"].(string)
		if !ok {
			return nil, malformed("XML-RPC fault without a faultString")
		}
		if strings.Contains(message, "TooManyRequests") {
			return nil, &retryableError{fmt.Errorf("XML-RPC fault: %s", message)}
		}
		return nil, fmt.Errorf("%w: fault: %s", ErrXMLRPCUnavailable, message)
	}
	if len(resp.Params) != 1 {
		return nil, malformed("XML-RPC answer has %d results, want 1", len(resp.Params))
	}
	return resp.Params[0].decode()
}

func (v *xmlValue) decode() (any, error) {
	typed := len(v.Other)
	for _, present := range []bool{v.String != nil, v.Int != nil, v.I4 != nil, v.I8 != nil, v.Nil != nil, v.Array != nil, v.Struct != nil} {
		if present {
			typed++
		}
	}
	switch {
	case typed == 0:
		return v.Text, nil // a bare value is a string
	case typed > 1 || strings.TrimSpace(v.Text) != "":
		return nil, malformed("XML-RPC value holds more than one thing")
	case len(v.Other) > 0:
		return nil, malformed("XML-RPC value of unsupported type %s", v.Other[0].XMLName.Local)
	case v.String != nil:
		return *v.String, nil
	case v.Nil != nil:
		return nil, nil
	case v.Array != nil:
		values := make([]any, len(v.Array.Values))
		for i := range v.Array.Values {
			var err error
			if values[i], err = v.Array.Values[i].decode(); err != nil {
				return nil, err
			}
		}
		return values, nil
	case v.Struct != nil:
		members := make(map[string]any, len(v.Struct.Members))
		for i := range v.Struct.Members {
			m := &v.Struct.Members[i]
			value, err := m.Value.decode()
			if err != nil {
				return nil, err
			}
			members[m.Name] = value
		}
		return members, nil
	}
	digits := v.Int
	if digits == nil {
		digits = v.I4
	}
	if digits == nil {
		digits = v.I8
	}
	n, err := strconv.ParseInt(strings.TrimSpace(*digits), 10, 64)
	if err != nil {
		return nil, malformed("XML-RPC int %q", *digits)
	}
	return n, nil
}

// changelogRows validates a changelog_since_serial result: rows of
// [name, version or nil, timestamp, action, serial], serials above since
// and increasing, names that normalize.
func changelogRows(v any, since int64) ([]Change, error) {
	rows, ok := v.([]any)
	if !ok {
		return nil, malformed("changelog is not an array")
	}
	changes := make([]Change, 0, len(rows))
	last := since
	for i, r := range rows {
		row, ok := r.([]any)
		if !ok || len(row) != 5 {
			return nil, malformed("changelog row %d is not a 5-element array", i)
		}
		name, okName := row[0].(string)
		version, okVersion := row[1].(string)
		timestamp, okTime := row[2].(int64)
		action, okAction := row[3].(string)
		serial, okSerial := row[4].(int64)
		if !okName || (!okVersion && row[1] != nil) || !okTime || !okAction || !okSerial {
			return nil, malformed("changelog row %d has fields of the wrong types", i)
		}
		if serial <= last {
			return nil, malformed("changelog row %d has serial %d, not above %d", i, serial, last)
		}
		last = serial
		project, err := tiles.NormalizeProject(name)
		if err != nil {
			return nil, fmt.Errorf("%w: changelog row %d: %w", ErrMalformed, i, err)
		}
		changes = append(changes, Change{
			Project: project,
			Version: version,
			Time:    time.Unix(timestamp, 0).UTC(),
			Action:  action,
			Serial:  serial,
		})
	}
	return changes, nil
}
