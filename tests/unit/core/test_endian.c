/* hal/core/endian.h: byte order and width of each helper, at addresses of
 * every alignment; values too wide for a field are cut, not saturated. */
#include "check.h"
#include "core/endian.h"

static uint8_t buf[32];

static void little_endian_fields(void)
{
	for (unsigned at = 0; at < 8; at++) {
		uint8_t *p = buf + at;
		memset(buf, 0xcc, sizeof(buf));
		put_le16(p, 0x1234);
		CHECK(p[0] == 0x34 && p[1] == 0x12 && p[2] == 0xcc);
		CHECK_EQ(get_le16(p), 0x1234);
		put_le32(p, 0x89abcdefu);
		CHECK(p[0] == 0xef && p[1] == 0xcd && p[2] == 0xab && p[3] == 0x89 && p[4] == 0xcc);
		CHECK_EQ(get_le32(p), 0x89abcdefu);
		put_le64(p, 0x0123456789abcdefULL);
		CHECK(p[0] == 0xef && p[7] == 0x01 && p[8] == 0xcc);
		CHECK(get_le64(p) == 0x0123456789abcdefULL);
		put_le64(p, ~0ULL);
		CHECK(get_le64(p) == ~0ULL && p[8] == 0xcc);
	}
}

static void big_endian_fields(void)
{
	for (unsigned at = 0; at < 8; at++) {
		uint8_t *p = buf + at;
		memset(buf, 0xcc, sizeof(buf));
		put_be16(p, 0x1234);
		CHECK(p[0] == 0x12 && p[1] == 0x34 && p[2] == 0xcc);
		CHECK_EQ(get_be16(p), 0x1234);
		put_be32(p, 0x89abcdefu);
		CHECK(p[0] == 0x89 && p[1] == 0xab && p[2] == 0xcd && p[3] == 0xef && p[4] == 0xcc);
		CHECK_EQ(get_be32(p), 0x89abcdefu);
		put_be64(p, 0x0123456789abcdefULL);
		CHECK(p[0] == 0x01 && p[7] == 0xef && p[8] == 0xcc);
		CHECK(get_be64(p) == 0x0123456789abcdefULL);
	}
}

static void any_width_and_no_saturation(void)
{
	memset(buf, 0xcc, sizeof(buf));
	put_le(buf + 1, 0x0c0300, 3); /* a PCI class code */
	CHECK(buf[0] == 0xcc && buf[1] == 0x00 && buf[2] == 0x03 && buf[3] == 0x0c && buf[4] == 0xcc);
	CHECK_EQ(get_le(buf + 1, 3), 0x0c0300);
	CHECK_EQ(get_le(buf + 1, 0), 0);
	put_le(buf, 0x1122334455667788ULL, 8);
	CHECK(get_le(buf, 8) == 0x1122334455667788ULL && get_le64(buf) == 0x1122334455667788ULL);
	CHECK_EQ(get_le(buf, 2), 0x7788);
	put_le16(buf, (uint16_t)0x12345); /* the caller's cast cuts: 0x2345, never 0xffff */
	CHECK_EQ(get_le16(buf), 0x2345);
	put_le(buf, 0x12345, 2);
	CHECK_EQ(get_le16(buf), 0x2345);
	put_be16(buf, (uint16_t)0x12345);
	CHECK_EQ(get_be16(buf), 0x2345);
}

int main(void)
{
	RUN(little_endian_fields);
	RUN(big_endian_fields);
	RUN(any_width_and_no_saturation);
	return 0;
}
