package location

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"sip-router.org/core/rpc"
)

// QString formats a q value (thousandths) as Kamailio and SER print it:
// "1", "0", "0.5", "0.05", "0.125"; "" when unset.
func QString(q int) string {
	switch {
	case q < 0:
		return ""
	case q >= 1000:
		return "1"
	case q == 0:
		return "0"
	}
	return strings.TrimRight(fmt.Sprintf("0.%03d", q), "0")
}

// ParseQ reads a q value ("0.5", "1", "0.125", "1.000") into thousandths:
// a decimal number from 0 to 1 with at most three decimals.
func ParseQ(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, "eE+-xX") {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1 {
		return 0, false
	}
	if i := strings.IndexByte(s, '.'); i >= 0 && len(s)-i-1 > 3 {
		return 0, false
	}
	return int(math.Round(f * 1000)), true
}

// Dump is the body of ul.dump [brief]: per table its name, the size of
// its hash, its records and contacts, and its records — their keys with
// "brief", info of each otherwise. It is nil without tables.
func (s *Service[C, X]) Dump(req *rpc.Request, info func(r *Record[C], now time.Time) map[string]any) ([]any, error) {
	brief := len(req.Params) > 0 && strings.EqualFold(req.Params[0], "brief")
	if len(req.Params) > 0 && !brief {
		return nil, fmt.Errorf("%w: the only option is \"brief\"", rpc.ErrParams)
	}
	now := time.Now()
	var doms []any
	for _, t := range s.Tables() {
		recs, err := t.Records()
		if err != nil {
			return nil, err
		}
		keys := make([]any, 0, len(recs))
		contacts := 0
		for i := range recs {
			contacts += len(recs[i].Contacts)
			if brief {
				keys = append(keys, recs[i].Key)
			} else {
				keys = append(keys, info(&recs[i], now))
			}
		}
		doms = append(doms, map[string]any{"Domain": t.name, "Size": t.Shards(), "Records": len(recs),
			"Contacts": contacts, "AoRs": keys})
	}
	return doms, nil
}
