/* Unit tests for mirror.c: the copies declared after the planned tensors, one write reaching both. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "mem.h"
#include "mirror.h"
#include "t.h"

int main(void)
{
	ck_err e = {0};
	ck_tinfo t[3] = {
		{"p.m.a", CK_DT_F32, {1, {2}}, 8},
		{"other", CK_DT_F32, {1, {1}}, 4},
		{"p.m.b.c", CK_DT_U8, {2, {1, 3}}, 3},
	};
	mirror_map m;
	T_EQ_INT(mirror_map_make(t, 3, "p.m.", "r.m.", &m, &e), 0, "the map is made");
	T_EQ_INT(m.n, 3, "the planned tensors first");
	T_EQ_INT(m.n_all, 5, "then one copy per tensor under the prefix");
	T_EQ_STR(m.t[3].name, "r.m.a", "the copy takes the copy prefix");
	T_EQ_STR(m.t[4].name, "r.m.b.c", "in plan order");
	T_OK(m.t[4].dtype == CK_DT_U8 && ck_shape_eq(&m.t[4].shape, &t[2].shape) && m.t[4].nbytes == 3,
		"with the dtype, shape and size of its original");
	T_OK(m.copy[0] == 3 && m.copy[1] == SIZE_MAX && m.copy[2] == 4, "a tensor outside the prefix has no copy");

	mem_sink real;
	ck_tsink *s = NULL;
	mem_sink_init(&real, m.t, m.n_all);
	T_EQ_INT(mirror_sink_open(&real.base, &m, &s, &e), 0, "the sink opens");
	float a[2] = {1.5f, -2.0f}, o = 7.0f;
	unsigned char bc[3] = {1, 2, 3};
	T_EQ_INT(ck_tsink_write(s, 0, a, &e) || ck_tsink_write(s, 1, &o, &e) || ck_tsink_write(s, 2, bc, &e), 0,
		"each planned tensor is written once");
	T_OK(real.data[3] && !memcmp(real.data[3], a, 8) && !memcmp(real.data[0], a, 8), "the original and its copy hold the bytes");
	T_OK(real.data[4] && !memcmp(real.data[4], bc, 3), "for every tensor with a copy");
	T_OK(real.data[1] && !memcmp(real.data[1], &o, 4), "one without is written once");
	T_EQ_INT(ck_tsink_commit(s, &e), 0, "committing it");
	T_OK(real.committed, "commits the real sink");
	mem_sink_dispose(&real);
	mirror_map_dispose(&m);
	return t_done();
}
