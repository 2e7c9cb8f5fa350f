package members

import "errors"

var errorsAs = errors.As
