package clips

import "slices"

// Lanes of the ready jobs: copy clips take milliseconds of I/O, exact and
// vertical ones an encoder's CPU for about the clip's length, so copies
// have a worker of their own and never wait behind an encode.
const (
	laneCopy = iota
	laneEncode
	lanes
)

func laneOf(s Spec) int {
	if s.Mode == ModeCopy {
		return laneCopy
	}
	return laneEncode
}

// fairQueue holds ready jobs by owner (broadcaster) and hands them out in
// turn, first come first served within an owner: each owner with a job
// waiting gets one before any gets a second, so one broadcaster's batch
// does not hold another's clip behind it.
type fairQueue struct {
	byOwner map[string][]*job
	turn    []string // owners with jobs waiting, whose turn is next first
	n       int
}

func (q *fairQueue) len() int { return q.n }

func (q *fairQueue) push(j *job) {
	if q.byOwner == nil {
		q.byOwner = map[string][]*job{}
	}
	owner := j.spec.Owner
	if len(q.byOwner[owner]) == 0 {
		q.turn = append(q.turn, owner)
	}
	q.byOwner[owner] = append(q.byOwner[owner], j)
	q.n++
}

// pop takes the next owner's oldest job; nil if there is none.
func (q *fairQueue) pop() *job {
	if q.n == 0 {
		return nil
	}
	owner := q.turn[0]
	q.turn = q.turn[1:]
	jobs := q.byOwner[owner]
	j := jobs[0]
	if len(jobs) == 1 {
		delete(q.byOwner, owner)
	} else {
		q.byOwner[owner] = jobs[1:]
		q.turn = append(q.turn, owner)
	}
	q.n--
	return j
}

// remove takes j out of the queue if it is there.
func (q *fairQueue) remove(j *job) {
	owner := j.spec.Owner
	jobs := q.byOwner[owner]
	i := slices.Index(jobs, j)
	if i < 0 {
		return
	}
	jobs = slices.Delete(jobs, i, i+1)
	q.n--
	if len(jobs) > 0 {
		q.byOwner[owner] = jobs
		return
	}
	delete(q.byOwner, owner)
	q.turn = slices.DeleteFunc(q.turn, func(o string) bool { return o == owner })
}
