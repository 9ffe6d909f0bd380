package fakepypi

import (
	"fmt"
	"time"
)

// FaultKind is what goes wrong with a request.
type FaultKind int

// The faults a server can inject.
const (
	// FaultStatus answers with Fault.Status and an empty body, with a
	// Retry-After header when Fault.RetryAfter is set: 429, 500, 404 for a
	// listed project, 403 or 405 for an XML-RPC API that was turned off.
	FaultStatus FaultKind = iota + 1
	// FaultTruncate announces the full Content-Length, sends half of the
	// body and drops the connection.
	FaultTruncate
	// FaultMalformed sends a complete HTTP answer whose body is the first
	// half of the real one: JSON or XML that doesn't parse, a distribution
	// file shorter than the index says.
	FaultMalformed
	// FaultDelay waits Fault.Delay (or until the client gives up) before
	// answering normally.
	FaultDelay
	// FaultStale serves a project page as it was before its last change,
	// with the older serial, as a lagging CDN does. Project pages only.
	FaultStale
	// FaultXMLRPC answers an XML-RPC call with an XML-RPC fault whose
	// faultString is Fault.Message. XML-RPC only.
	FaultXMLRPC
)

// Always, as Fault.Times, makes a fault affect every matching request.
const Always = -1

// Fault describes requests to break and how.
type Fault struct {
	// Endpoint selects the requests affected.
	Endpoint Endpoint
	// Project, when set, restricts the fault to requests for that project
	// (project pages, provenance and files); any spelling, it is
	// normalized.
	Project string
	// Kind is what goes wrong.
	Kind FaultKind
	// Times is how many matching requests the fault affects, or Always.
	Times int
	// Status is the HTTP status of FaultStatus.
	Status int
	// RetryAfter, if set, is sent as the Retry-After header of
	// FaultStatus (seconds or an HTTP date).
	RetryAfter string
	// Delay is how long FaultDelay holds the answer back.
	Delay time.Duration
	// Message is the faultString of FaultXMLRPC.
	Message string
}

// AddFault injects a fault. Faults apply in the order they were added; a
// request triggers at most one, the first that matches and has Times left.
// It panics if f.Times is neither positive nor Always.
func (s *Server) AddFault(f Fault) {
	if f.Times <= 0 && f.Times != Always {
		panic(fmt.Sprintf("fakepypi: Fault.Times is %d, want a positive count or Always", f.Times))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFaultLocked returns the fault this request triggers, using up one of
// its Times, or nil.
func (s *Server) takeFaultLocked(ep Endpoint, projectName string) *Fault {
	for i, f := range s.faults {
		if f.Endpoint != ep || (f.Project != "" && normalize(f.Project) != projectName) {
			continue
		}
		taken := *f
		if f.Times != Always {
			f.Times--
			if f.Times <= 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return &taken
	}
	return nil
}
