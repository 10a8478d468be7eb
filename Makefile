# Podium's entry points. See README.md.
.PHONY: demo serve build test bench soak hostile lint fuzz

GO ?= go

demo:
	$(GO) run ./cmd/podium demo

serve:
	$(GO) run ./cmd/podium serve

build:
	CGO_ENABLED=0 $(GO) build -o podium ./cmd/podium

# Installs what the tests need (ffmpeg, srt-tools, libsrt for the reject-code
# probe) when missing, then runs every test with the race detector.
test:
	scripts/install-test-deps.sh
	$(GO) test -race -timeout 20m ./...

# Measures SRT fan-out against libsrt's srt-live-transmit, a 10-minute soak
# (8 feeds with primary and backup, 20 receivers each, primaries killed),
# and HLS requests per second against nginx and LL-HLS glass-to-glass latency
# in Chromium against the SRT path, clip search over 100,000 clips, and
# exporting a 60 s copy clip against ffmpeg -c copy, and the hostile load
# cases (see hostile); writes BENCHMARKS.md (about 35 minutes).
# nginx and wrk are for the bench only.
bench:
	scripts/install-test-deps.sh
	scripts/install-bench-deps.sh
	$(GO) run ./bench/srtfanout
	$(GO) run ./bench/soak
	$(GO) run ./bench/hlsbench
	$(GO) run ./bench/searchbench
	$(GO) run ./bench/clipbench
	$(GO) run ./bench/hostile

# The soak alone, e.g. SOAK_FLAGS="-duration 2m -feeds 2 -readers 3".
SOAK_FLAGS ?=
soak:
	scripts/install-test-deps.sh
	$(GO) run ./bench/soak $(SOAK_FLAGS)

# The outside security test's load cases (2,000 SSE streams, SRT handshake
# floods, slow bodies, long searches) against a fresh Podium on 127.0.0.1,
# measuring that a revoke still cuts a live SRT delivery within 1 s; writes
# BENCHMARKS.md's "Hostile load" (about 4 minutes). E.g.
# HOSTILE_FLAGS="-sse 500 -duration 30s".
HOSTILE_FLAGS ?=
hostile:
	scripts/install-test-deps.sh
	$(GO) run ./bench/hostile $(HOSTILE_FLAGS)

# Fuzzes every parser of outside input for FUZZTIME each.
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./internal/srt -run '^$$' -fuzz FuzzParsePacket -fuzztime $(FUZZTIME)
	$(GO) test ./internal/srt -run '^$$' -fuzz FuzzListener -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./internal/srtserver -run '^$$' -fuzz FuzzParseStreamID -fuzztime $(FUZZTIME)
	$(GO) test ./internal/ts -run '^$$' -fuzz FuzzScan -fuzztime $(FUZZTIME)
	$(GO) test ./internal/tsloop -run '^$$' -fuzz FuzzNew -fuzztime $(FUZZTIME)
	$(GO) test ./internal/hls -run '^$$' -fuzz FuzzVerify -fuzztime $(FUZZTIME)
	$(GO) test ./internal/catalog -run '^$$' -fuzz FuzzParseSRTAddress -fuzztime $(FUZZTIME)
	$(GO) test ./internal/catalog -run '^$$' -fuzz FuzzParseScheduleJSON -fuzztime $(FUZZTIME)
	$(GO) test ./internal/catalog -run '^$$' -fuzz FuzzParseScheduleCSV -fuzztime $(FUZZTIME)
	$(GO) test ./internal/api -run '^$$' -fuzz FuzzParseCalls -fuzztime $(FUZZTIME)
	$(GO) test ./internal/api -run '^$$' -fuzz FuzzAPIJSON -fuzztime $(FUZZTIME)
	$(GO) test ./internal/api -run '^$$' -fuzz FuzzSessionCookie -fuzztime $(FUZZTIME)
	$(GO) test ./internal/api -run '^$$' -fuzz FuzzSearchQuery -fuzztime $(FUZZTIME)
	$(GO) test ./internal/api -run '^$$' -fuzz FuzzCrossSite -fuzztime $(FUZZTIME)
	$(GO) test ./internal/archive -run '^$$' -fuzz FuzzRecorderChunk -fuzztime $(FUZZTIME)
	$(GO) test ./internal/config -run '^$$' -fuzz FuzzConfigYAML -fuzztime $(FUZZTIME)
	$(GO) test ./internal/config -run '^$$' -fuzz FuzzParseBitrate -fuzztime $(FUZZTIME)
	$(GO) test ./internal/config -run '^$$' -fuzz FuzzParseByteSize -fuzztime $(FUZZTIME)
	$(GO) test ./internal/ratelimit -run '^$$' -fuzz FuzzKey -fuzztime $(FUZZTIME)
	$(GO) test ./internal/clientaddr -run '^$$' -fuzz FuzzClient -fuzztime $(FUZZTIME)
	$(GO) test ./internal/rtmpserver -run '^$$' -fuzz FuzzServerConn -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./internal/rtmpserver -run '^$$' -fuzz FuzzChunkGuard -fuzztime $(FUZZTIME)

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
