// srtprobe connects to an SRT listener with libsrt, the reference
// implementation, and prints "connected" or "rejected CODE" so that tests can
// check the rejection reason a real libsrt caller receives.
//
// Build: gcc -o srtprobe srtprobe.c -lsrt
// Usage: srtprobe HOST PORT STREAMID [PASSPHRASE]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <srt/srt.h>

int main(int argc, char **argv) {
	if (argc < 4) {
		fprintf(stderr, "usage: srtprobe HOST PORT STREAMID [PASSPHRASE]\n");
		return 2;
	}
	srt_startup();
	srt_setloglevel(0);
	SRTSOCKET s = srt_create_socket();
	int live = SRTT_LIVE;
	srt_setsockflag(s, SRTO_TRANSTYPE, &live, sizeof live);
	srt_setsockflag(s, SRTO_STREAMID, argv[3], strlen(argv[3]));
	if (argc > 4) {
		srt_setsockflag(s, SRTO_PASSPHRASE, argv[4], strlen(argv[4]));
	}
	int timeout = 3000;
	srt_setsockflag(s, SRTO_CONNTIMEO, &timeout, sizeof timeout);
	struct sockaddr_in sa = {0};
	sa.sin_family = AF_INET;
	sa.sin_port = htons(atoi(argv[2]));
	inet_pton(AF_INET, argv[1], &sa.sin_addr);
	if (srt_connect(s, (struct sockaddr *)&sa, sizeof sa) == SRT_ERROR) {
		printf("rejected %d\n", srt_getrejectreason(s));
		srt_close(s);
		srt_cleanup();
		return 1;
	}
	printf("connected\n");
	srt_close(s);
	srt_cleanup();
	return 0;
}
