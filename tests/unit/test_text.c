/* test_text.c - the one UTF-8 decoder and the one JSON string escaper (serde and Python styles). */
#include <stdlib.h>
#include <string.h>
#include "text.h"
#include "t.h"

static void test_utf8(void)
{
	static const struct { const char *s; size_t len; uint32_t cp; const char *name; } cases[] = {
		{"A", 1, 'A', "ASCII"},
		{"\xc3\xa9", 2, 0xe9, "two bytes"},
		{"\xe2\x82\xac", 3, 0x20ac, "three bytes"},
		{"\xf0\x9f\x98\x80", 4, 0x1f600, "four bytes"},
		{"\xc0\xaf", 0, 0, "overlong refused"},
		{"\xed\xa0\x80", 0, 0, "surrogate refused"},
		{"\xf4\x90\x80\x80", 0, 0, "beyond U+10FFFF refused"},
		{"\x80", 0, 0, "lone continuation refused"},
		{"\xe2\x82", 0, 0, "truncated refused"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		uint32_t cp = 0;
		size_t n = text_utf8_next((const unsigned char *)cases[i].s, strlen(cases[i].s), &cp);
		T_OK(n == cases[i].len && (!n || cp == cases[i].cp), "utf8: %s", cases[i].name);
	}
	uint32_t cp;
	T_EQ_INT(text_utf8_next((const unsigned char *)"\xe2\x82\xac", 2, &cp), 0, "utf8: the length bound is kept");
	T_OK(text_utf8_valid("caf\xc3\xa9") && !text_utf8_valid("caf\xc3"), "utf8: whole strings");
}

static void test_json(void)
{
	static const struct { const char *s; int ascii; const char *want; } cases[] = {
		{"a\"b\\c", 0, "\"a\\\"b\\\\c\""},
		{"\n\t\x01", 0, "\"\\n\\t\\u0001\""},
		{"caf\xc3\xa9", 0, "\"caf\xc3\xa9\""},
		{"caf\xc3\xa9", 1, "\"caf\\u00e9\""},
		{"\x7f", 0, "\"\x7f\""},
		{"\x7f", 1, "\"\\u007f\""},
		{"\xf0\x9f\x98\x80", 1, "\"\\ud83d\\ude00\""},
		{"a\xff", 1, "\"a\\ufffd\""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		text b = {0};
		text_json_str(&b, cases[i].s, strlen(cases[i].s), cases[i].ascii);
		char *got = text_take(&b);
		T_EQ_STR(got, cases[i].want, cases[i].want);
		free(got);
	}
}

/* Python's bare NaN/Infinity/-Infinity are found outside strings only, one after the other */
static void test_nonfinite(void)
{
	const char *s = "{\"a NaN\": NaN, \"b\\\"Infinity\": [-Infinity, Infinity], \"c\": 1}", *p;
	static const char *want[] = {"NaN", "-Infinity", "Infinity"};
	size_t n = 0, k = 0;
	for (p = s; (p = text_json_nonfinite(p, &n)); p += n, k++)
		T_OK(k < 3 && n == strlen(want[k]) && !strncmp(p, want[k], n), want[k < 3 ? k : 0]);
	T_OK(k == 3, "nonfinite: three tokens, none inside strings");
	T_OK(!text_json_nonfinite("{\"x\": \"NaN\", \"y\": 1.5}", &n), "nonfinite: none in a finite text");
}

static void test_human(void)
{
	static const struct { double b; const char *want; } cases[] = {
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"}, {3145728, "3.0 MiB"},
		{1099511627776.0, "1.0 TiB"}, {1024.0 * 1099511627776.0 * 1024, "1024.0 PiB"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char buf[32];
		T_EQ_STR(text_human_bytes(cases[i].b, buf, sizeof buf), cases[i].want, cases[i].want);
	}
}

int main(void)
{
	test_utf8();
	test_json();
	test_nonfinite();
	test_human();
	return t_done();
}
