// Reads the clock strip that bench/hlsbench burns into the live source (see
// clock.go for the layout): 32 blocks of 32x32 pixels in the top-left
// corner, bits 0-23 of the capture wall clock in ms modulo 2^24 (least
// significant first), then a check byte.
(function (global) {
  'use strict';
  const STAMP_BITS = 24;
  const BLOCK = 32;
  const BLOCKS = 32;
  const MODULO = 2 ** STAMP_BITS;
  const WIDTH = BLOCKS * BLOCK;
  const HEIGHT = BLOCK;

  function checkByte(stamp) {
    return 255 - (((stamp & 0xff) + ((stamp >> 8) & 0xff) + ((stamp >> 16) & 0xff)) & 0xff);
  }

  // decodeStrip returns the stamp in an RGBA picture of the strip (width
  // pixels a row), or -1 when its check byte does not match. It looks at the
  // middle half of each block, away from the edges that the encoder blurs.
  function decodeStrip(rgba, width) {
    let stamp = 0;
    let check = 0;
    for (let block = 0; block < BLOCKS; block++) {
      let sum = 0;
      let n = 0;
      for (let y = BLOCK / 4; y < (BLOCK * 3) / 4; y++) {
        for (let x = BLOCK / 4; x < (BLOCK * 3) / 4; x++) {
          const i = (y * width + block * BLOCK + x) * 4;
          sum += rgba[i] + rgba[i + 1] + rgba[i + 2];
          n += 3;
        }
      }
      if (sum / n > 127) {
        if (block < STAMP_BITS) stamp |= 1 << block;
        else check |= 1 << (block - STAMP_BITS);
      }
    }
    return checkByte(stamp) === check ? stamp : -1;
  }

  // stampAge returns how many ms before nowMs (a wall-clock time) a stamp was made.
  function stampAge(nowMs, stamp) {
    return (((Math.floor(nowMs) % MODULO) - stamp) + MODULO) % MODULO;
  }

  global.podiumClock = { WIDTH, HEIGHT, decodeStrip, stampAge };
})(globalThis);
