// Package sipmsg holds helpers over sipgo's message model that the core and
// the modules share: the one canonical header-name matching (compact forms,
// case, surrounding blanks), header lookup and removal, and message
// building blocks:
//
//   - NewParser: sipgo's parser with the project's fixes (CSeq range and
//     blanks, LWS in Via/To/From/Contact, addr-spec "?" check, Via and
//     Contact comma splitting);
//   - Check and CheckResponse: the structural checks run on every message
//     before the core (Kamailio sanity-like, RFC 4475);
//   - AddReceived and ReplyDest: RFC 3261 §18.2 and RFC 3581;
//   - NewReply, ToTag, NewReplyFromRaw, Classify: stateless replies, also
//     to requests that did not parse;
//   - Branch, CSeqMethod, MaxForwards, ValidVia, KnownMethod.
//
// Everything here is a pure function of its arguments: no I/O, no state.
package sipmsg
