package logging

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/go-multierror"
)

// ErrorText returns err's message with the first error list found in its
// chain — a go-multierror, whose default text is "2 errors occurred:\n\t* a\n\t*
// b\n\n", or an errors.Join, one error per line — written on one line:
// the error itself when the list holds one, else "N errors: a; b; ...". What
// wraps the list keeps its words ("rendering: 2 errors: a; b"), and lists
// inside the list are written the same way. Logs and the binaries' last
// error line use it, so an error never spreads over several log lines.
func ErrorText(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	list, whole := errorList(err)
	if list == nil || !strings.Contains(msg, whole) {
		return msg
	}
	parts := make([]string, 0, len(list))
	for _, e := range list {
		if e != nil {
			parts = append(parts, ErrorText(e))
		}
	}
	text := strings.Join(parts, "; ")
	if len(parts) > 1 {
		text = fmt.Sprintf("%d errors: %s", len(parts), text)
	}
	return strings.Replace(msg, whole, text, 1)
}

// errorList finds the first error list in err's chain and its text.
func errorList(err error) ([]error, string) {
	var me *multierror.Error
	if errors.As(err, &me) && me != nil && len(me.Errors) > 0 {
		return me.Errors, me.Error()
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		j, ok := e.(interface{ Unwrap() []error })
		if !ok {
			continue
		}
		// Only errors.Join's text is its errors one per line; another
		// error with several causes (fmt.Errorf("%w: %w")) words them itself.
		errs := j.Unwrap()
		texts := make([]string, len(errs))
		for i, x := range errs {
			texts[i] = x.Error()
		}
		if e.Error() == strings.Join(texts, "\n") {
			return errs, e.Error()
		}
		return nil, ""
	}
	return nil, ""
}
