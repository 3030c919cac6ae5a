/* --net's argument (net_parse) and the default MAC (net_default_mac). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "net/net.h"

#define MODES "bridge=BR, tap=IF, macvtap=IF, user or none"
#define FAIL(...) do { snprintf(why, whylen, __VA_ARGS__); return -1; } while (0)

/* What the kernel takes as a name (dev_valid_name): 1-15 bytes, no '/',
 * ':' or white space, not "." or "..". */
static bool valid_ifname(const char *n)
{
	if (!*n || !strcmp(n, ".") || !strcmp(n, ".."))
		return false;
	for (const char *p = n; *p; p++)
		if (*p == '/' || *p == ':' || isspace((unsigned char)*p))
			return false;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool parse_mac(const char *v, uint8_t mac[6])
{
	if (strlen(v) != 17)
		return false;
	for (int i = 0; i < 6; i++) {
		int hi = hexval(v[3 * i]), lo = hexval(v[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && v[3 * i + 2] != ':'))
			return false;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* "8080" -> 8080; 1-65535, digits only. p..end. */
static bool parse_port(const char *p, const char *end, uint16_t *out)
{
	unsigned long n = 0;
	if (p == end || end - p > 5)
		return false;
	for (; p < end; p++) {
		if (!isdigit((unsigned char)*p))
			return false;
		n = n * 10 + (unsigned long)(*p - '0');
	}
	if (n < 1 || n > 65535)
		return false;
	*out = (uint16_t)n;
	return true;
}

/* tcp::HOSTPORT-:GUESTPORT (QEMU's form with both addresses left out). */
static int parse_fwd(const char *arg, const char *v, struct net_spec *s, char *why, size_t whylen)
{
	const char *sep = strstr(v, "-:");
	if (!strncmp(v, "udp:", 4))
		FAIL("--net %s: hostfwd=%s: only tcp forwards are supported (tcp::HOSTPORT-:GUESTPORT)", arg, v);
	if (strncmp(v, "tcp::", 5) || !sep)
		FAIL("--net %s: hostfwd=%s: expected tcp::HOSTPORT-:GUESTPORT", arg, v);
	uint16_t host, guest;
	if (!parse_port(v + 5, sep, &host))
		FAIL("--net %s: hostfwd=%s: host port '%.*s' is not a number from 1 to 65535", arg, v,
		     (int)(sep - (v + 5)), v + 5);
	if (!parse_port(sep + 2, sep + 2 + strlen(sep + 2), &guest))
		FAIL("--net %s: hostfwd=%s: guest port '%s' is not a number from 1 to 65535", arg, v, sep + 2);
	if (s->nfwd == NET_MAX_FWD)
		FAIL("--net %s: at most %d hostfwd= options", arg, NET_MAX_FWD);
	for (int i = 0; i < s->nfwd; i++)
		if (s->fwd[i].host == host)
			FAIL("--net %s: host port %u is forwarded twice", arg, host);
	s->fwd[s->nfwd].host = host;
	s->fwd[s->nfwd].guest = guest;
	s->nfwd++;
	return 0;
}

static int parse_mode(const char *arg, char *tok, struct net_spec *s, char *why, size_t whylen)
{
	static const struct { const char *name; enum net_mode mode; } named[] = {
		{ "bridge", NET_BRIDGE }, { "tap", NET_TAP }, { "macvtap", NET_MACVTAP },
	};
	if (!strcmp(tok, "none") || !strcmp(tok, "user")) {
		s->mode = tok[0] == 'n' ? NET_NONE : NET_USER;
		return 0;
	}
	char *eq = strchr(tok, '=');
	if (eq)
		*eq = 0;
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		if (strcmp(tok, named[i].name))
			continue;
		const char *v = eq ? eq + 1 : "";
		if (!*v)
			FAIL("--net %s: %s= needs an interface name", arg, tok);
		if (strlen(v) >= sizeof(s->ifname))
			FAIL("--net %s: interface name '%s' is longer than %zu characters", arg, v,
			     sizeof(s->ifname) - 1);
		if (!valid_ifname(v))
			FAIL("--net %s: '%s' is not an interface name", arg, v);
		s->mode = named[i].mode;
		strcpy(s->ifname, v);
		return 0;
	}
	FAIL("--net %s: unknown mode '%s' (expected " MODES ")", arg, tok);
}

int net_parse(const char *arg, struct net_spec *s, char *why, size_t whylen)
{
	char buf[512];
	memset(s, 0, sizeof(*s));
	strcpy(s->model, "virtio");
	if (!*arg)
		FAIL("--net needs a mode: " MODES);
	if (strlen(arg) >= sizeof(buf))
		FAIL("--net: argument longer than %zu characters", sizeof(buf) - 1);
	strcpy(buf, arg);

	char *save, *tok = strtok_r(buf, ",", &save);
	if (!tok || buf[0] == ',')
		FAIL("--net %s: the mode comes first (" MODES ")", arg);
	if (parse_mode(arg, tok, s, why, whylen) < 0)
		return -1;
	bool model_set = false;
	while ((tok = strtok_r(NULL, ",", &save))) {
		if (s->mode == NET_NONE)
			FAIL("--net %s: none takes no options", arg);
		char *eq = strchr(tok, '=');
		const char *v = eq ? eq + 1 : "";
		if (eq)
			*eq = 0;
		if (!strcmp(tok, "mac")) {
			if (s->mac_set)
				FAIL("--net %s: mac= given twice", arg);
			if (!parse_mac(v, s->mac))
				FAIL("--net %s: mac=%s: expected six hex bytes such as 52:54:00:12:34:56", arg, v);
			if (s->mac[0] & 1)
				FAIL("--net %s: mac=%s is a multicast address (the first byte is odd); a NIC's is unicast",
				     arg, v);
			if (!memcmp(s->mac, "\0\0\0\0\0\0", 6))
				FAIL("--net %s: mac=%s: the all-zero address is no NIC's", arg, v);
			s->mac_set = true;
		} else if (!strcmp(tok, "model")) {
			if (model_set)
				FAIL("--net %s: model= given twice", arg);
			if (strcmp(v, "virtio") && strcmp(v, "e1000"))
				FAIL("--net %s: model=%s: expected virtio or e1000", arg, v);
			strcpy(s->model, v);
			model_set = true;
		} else if (!strcmp(tok, "hostfwd")) {
			if (s->mode != NET_USER)
				FAIL("--net %s: hostfwd= is for --net user only", arg);
			if (parse_fwd(arg, v, s, why, whylen) < 0)
				return -1;
		} else {
			FAIL("--net %s: unknown option '%s' (mac=, model=%s)", arg, tok,
			     s->mode == NET_USER ? ", hostfwd=" : "");
		}
	}
	return 0;
}

/* FNV-1a: small, and a different seed or index moves every output bit. */
static uint32_t fnv1a(uint32_t h, const void *p, size_t n)
{
	for (const uint8_t *b = p; n--; b++)
		h = (h ^ *b) * 16777619u;
	return h;
}

void net_default_mac(const char *seed, int index, uint8_t mac[6])
{
	uint8_t idx[4] = { (uint8_t)index, (uint8_t)(index >> 8), (uint8_t)(index >> 16), (uint8_t)(index >> 24) };
	uint32_t h = fnv1a(2166136261u, seed ? seed : "", seed ? strlen(seed) : 0);
	h = fnv1a(h, idx, sizeof(idx));
	h ^= h >> 15;
	h *= 0x2c1b3c6dU;
	h ^= h >> 12;
	/* QEMU's 52:54:00: locally administered, unicast */
	mac[0] = 0x52;
	mac[1] = 0x54;
	mac[2] = 0x00;
	mac[3] = (uint8_t)(h >> 16);
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)h;
}
