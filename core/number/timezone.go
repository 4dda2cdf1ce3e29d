package number

import (
	"sync"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// zones caches loaded time zones by name: a hold in the recipient's zone
// looks one up per held decision.
var zones sync.Map // string -> *time.Location

// TimeZone is the time zone of an E.164 number's region as libphonenumber
// names it (by country, or by area code where a country spans several),
// the first when it names several; nil when it names none it knows.
func TimeZone(e164 string) *time.Location {
	names, err := phonenumbers.GetTimezonesForPrefix(e164)
	if err != nil {
		return nil
	}
	for _, name := range names {
		if name == phonenumbers.UNKNOWN_TIMEZONE {
			continue
		}
		if loc, ok := zones.Load(name); ok {
			return loc.(*time.Location)
		}
		loc, err := time.LoadLocation(name)
		if err != nil {
			continue
		}
		zones.Store(name, loc)
		return loc
	}
	return nil
}
