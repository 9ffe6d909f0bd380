package fakepypi

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// methodCall is an XML-RPC request whose parameters are integers, the only
// kind the changelog methods take.
type methodCall struct {
	MethodName string       `xml:"methodName"`
	Params     []xmlIntArgs `xml:"params>param>value"`
}

type xmlIntArgs struct {
	Int  *string `xml:"int"`
	I4   *string `xml:"i4"`
	I8   *string `xml:"i8"`
	Text string  `xml:",chardata"`
}

func (v xmlIntArgs) int64() (int64, error) {
	s := v.Text
	for _, typed := range []*string{v.Int, v.I4, v.I8} {
		if typed != nil {
			s = *typed
		}
	}
	return strconv.ParseInt(strings.TrimSpace(s), 10, 64)
}

// maxXMLRPCRequest bounds the body of an XML-RPC call.
const maxXMLRPCRequest = 64 << 10

func (s *Server) serveXMLRPC(r *http.Request) response {
	if r.Method != http.MethodPost {
		return response{
			status: http.StatusMethodNotAllowed,
			header: http.Header{"Allow": {http.MethodPost}, "Content-Type": {"text/plain; charset=utf-8"}},
			body:   []byte("405 Method Not Allowed\n"),
		}
	}
	// A call is a method name and a few integers: 64 KiB is far more.
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxXMLRPCRequest))
	if err != nil {
		return xmlrpcFault("couldn't read request: " + err.Error())
	}
	var call methodCall
	if err := xml.Unmarshal(body, &call); err != nil {
		return xmlrpcFault("malformed request: " + err.Error())
	}
	args := make([]int64, len(call.Params))
	for i, p := range call.Params {
		if args[i], err = p.int64(); err != nil {
			return xmlrpcFault(fmt.Sprintf("parameter %d is not an int", i+1))
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case call.MethodName == "changelog_last_serial" && len(args) == 0:
		return xmlrpcResult("<int>" + strconv.FormatInt(s.serial, 10) + "</int>")
	case call.MethodName == "changelog_since_serial" && len(args) == 1:
		return xmlrpcResult(s.changelogSinceLocked(args[0]))
	}
	return xmlrpcFault(fmt.Sprintf("no method %s taking %d int parameters", call.MethodName, len(args)))
}

// changelogSinceLocked encodes the rows after since, at most
// changelogLimit of them, as an array of [name, version, timestamp, action,
// serial] arrays.
func (s *Server) changelogSinceLocked(since int64) string {
	var b strings.Builder
	b.WriteString("<array><data>\n")
	n := 0
	for _, row := range s.changelog {
		if row.serial <= since {
			continue
		}
		if n == s.changelogLimit {
			break
		}
		n++
		version := "<nil/>"
		if row.version != "" {
			version = "<string>" + xmlEscape(row.version) + "</string>"
		}
		fmt.Fprintf(&b, "<value><array><data><value><string>%s</string></value><value>%s</value><value><int>%d</int></value><value><string>%s</string></value><value><int>%d</int></value></data></array></value>\n",
			xmlEscape(row.name), version, row.time, xmlEscape(row.action), row.serial)
	}
	b.WriteString("</data></array>")
	return b.String()
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func xmlrpcResult(value string) response {
	return xmlResponse("<params><param><value>" + value + "</value></param></params>")
}

// xmlrpcFault is a fault answer as PyPI gives one, for example
// "HTTPTooManyRequests: ..." when rate limited.
func xmlrpcFault(message string) response {
	return xmlResponse("<fault><value><struct>" +
		"<member><name>faultCode</name><value><int>-32500</int></value></member>" +
		"<member><name>faultString</name><value><string>" + xmlEscape(message) + "</string></value></member>" +
		"</struct></value></fault>")
}

func xmlResponse(inner string) response {
	return response{
		status: http.StatusOK,
		header: http.Header{"Content-Type": {"text/xml; charset=utf-8"}},
		body:   []byte("<?xml version='1.0'?>\n<methodResponse>\n" + inner + "\n</methodResponse>\n"),
	}
}
