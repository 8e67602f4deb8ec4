package swonkie

import (
	"errors"
	"fmt"
	"net/http"
)

// UnusableAnswerError is a 2xx answer the client cannot use: a body that is
// not JSON, or one without what the call needs (a create without the new
// thing's id). The server said yes, so the effect may have happened: a
// create that got this answer may have made an object nobody knows the id
// of, and a blind retry may make another. It is neither transient nor
// permanent; the caller decides how often such a call may be repeated.
type UnusableAnswerError struct {
	// Op is the call, as method and endpoint template ("POST /media").
	Op string
	// Status is the 2xx the server sent.
	Status int
	// Reason says what was wrong with the body.
	Reason string
}

func (e *UnusableAnswerError) Error() string {
	return fmt.Sprintf("swonkie %s: %d %s answer is unusable: %s (the effect may have happened)",
		e.Op, e.Status, http.StatusText(e.Status), e.Reason)
}

// IsUnusableAnswer reports whether err is a 2xx answer without what the
// call needed: the effect may have happened.
func IsUnusableAnswer(err error) bool {
	var e *UnusableAnswerError
	return errors.As(err, &e)
}
