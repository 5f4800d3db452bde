// Package workflows holds ballotflow's workflows: the ballot workflow, one durable workflow
// per mail ballot that takes the county's status events as signals, decides which of them
// move the ballot, and plans one notice per accepted status on each of the voter's active
// channels, holding text and voice notices until the voter's contact hours; the ingestion
// workflow that signals a bulk import's events at a controlled rate; and the workflow that
// sends one confirmation of a new address.
//
// Their contract (task queue, registered names, search attributes, the types of inputs,
// signals and queries) is the leaf package workflows/contract: callers import that, never
// this package, which only the worker imports (to register the workflows). Workflow code does no I/O and
// carries no personal data: contact details are read by activities at send time.
//
// This file is what the workflows add to their contract: the input of a run as the workflow
// itself reads it, which may carry the state of the run it continues.
package workflows

import "github.com/ballotflow/ballotflow/workflows/contract"

// BallotStart is the ballot workflow's input: the contract.BallotInput a client starts it
// with and, when a run continues as new, the state it carries over. The embedded input's
// fields are promoted in JSON, so a run started with a BallotInput reads it as a BallotStart
// without Resume.
type BallotStart struct {
	contract.BallotInput
	// Resume is the state carried over when a ballot continues as new; nil for a new ballot.
	Resume *BallotState `json:",omitempty"`
}

// IngestStart is the ingestion workflow's input: the contract.IngestInput a client starts it
// with and, when a run continues as new, the state it carries over (as BallotStart).
type IngestStart struct {
	contract.IngestInput
	// Resume is the state carried over by continue-as-new; nil for a new import.
	Resume *IngestState `json:",omitempty"`
}
