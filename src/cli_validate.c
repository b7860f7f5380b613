/* cli_validate.c - `ckconv validate`: what only the interpreter can check in rule files.
 * Findings print as "file:line:col: error|warning: message", each once. */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "act.h"
#include "fn.h"
#include "cli.h"
#include "config.h"
#include "h5ck.h"
#include "io.h"
#include "match.h"
#include "model.h"
#include "prog.h"
#include "path.h"
#include "rule.h"
#include "strmap.h"
#include "valio.h"

const char cli_validate_usage[] =
	"usage: ckconv validate [--strict] [--format text|json|github] [--keys FILE [--from hf|cs]] [--rules DIR]\n"
	"                       [FILE|DIR ...]\n"
	"       ckconv validate --config FILE [--model M] [--rules DIR] [--format text|json|github]\n"
	"\n"
	"Checks rule files (default: every file of the installed rules): YAML and structure,\n"
	"includes and components (exist, no cycles), placeholder regexes (compile, no capture\n"
	"groups), templates in both directions, action names and parameters, placeholders bound on\n"
	"one side only, rules shadowed by earlier ones, names and config keys expressions refer to.\n"
	"--keys FILE (a list of keys, one per line, or a checkpoint: safetensors, HF dir, .mdl)\n"
	"adds coverage: keys no rule matches, rules that matched nothing, keys that do not convert\n"
	"back to themselves. --config FILE checks a real HF config.json or CS params file (flat or\n"
	"trainer layout) against its model's rules (detected, or --model): keys no rule accounts for\n"
	"(an error for CS keys, a warning for HF ones) and whatever the conversion would refuse.\n"
	"--format text|json|github: findings as file:line:col: lines (text, the default), as one JSON\n"
	"object (files, errors, warnings, findings [{file, line, col, severity, message}]), or as\n"
	"GitHub Actions annotations (::error file=F,line=L,col=C::message).\n"
	"Exit status 0 unless an error is found (with --strict: or a warning); 2 for a wrong command line.\n";

typedef enum { FMT_TEXT, FMT_JSON, FMT_GITHUB } out_format;


typedef struct lint {
	strmap seen;     /* findings already printed */
	out_format fmt;
	json_t *findings; /* FMT_JSON: gathered, printed at the end */
	int errors, warnings;
	const char *keys_path, *from;
	char **keys;
	size_t n_keys;
	int keys_cs;     /* keys are CS keys */
} lint;

static void say(lint *L, const char *file, int line, int col, int warn, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
/* GitHub's workflow-command escaping: % CR LF always, and in a property ':' and ','. */
static void gh_escape(char *out, size_t n, const char *s, int property)
{
	size_t k = 0;
	for (; *s && k + 4 < n; s++) {
		const char *rep = *s == '%' ? "%25" : *s == '\r' ? "%0D" : *s == '\n' ? "%0A" : property && *s == ':' ? "%3A"
			: property && *s == ',' ? "%2C" : NULL;
		if (rep) {
			memcpy(out + k, rep, 3);
			k += 3;
		} else {
			out[k++] = *s;
		}
	}
	out[k] = '\0';
}

static void emit(lint *L, const char *file, int line, int col, int warn, const char *msg, const char *full)
{
	char f[1200], m[6200];
	switch (L->fmt) {
	case FMT_TEXT:
		puts(full);
		break;
	case FMT_GITHUB:
		gh_escape(f, sizeof f, file, 1);
		gh_escape(m, sizeof m, msg, 0);
		printf("::%s file=%s,line=%d,col=%d::%s\n", warn ? "warning" : "error", f, line, col, m);
		break;
	case FMT_JSON:
		json_array_append_new(L->findings, json_pack("{s:o, s:i, s:i, s:s, s:o}", "file", cli_json_str(file), "line", line,
			"col", col, "severity", warn ? "warning" : "error", "message", cli_json_str(msg)));
		break;
	}
}

static void say(lint *L, const char *file, int line, int col, int warn, const char *fmt, ...)
{
	char msg[2048], full[2600];
	size_t dummy;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(full, sizeof full, "%s:%d:%d: %s: %s", file, line, col, warn ? "warning" : "error", msg);
	if (strmap_get(&L->seen, full, &dummy))
		return;
	strmap_put(&L->seen, full, 1);
	emit(L, file, line, col, warn, msg, full);
	if (warn)
		L->warnings++;
	else
		L->errors++;
}

/* A conversion's error about path, without repeating the path. */
static void say_conv(lint *L, const char *path, const char *msg)
{
	size_t n = strlen(path);
	if (!strncmp(msg, path, n) && !strncmp(msg + n, ": ", 2))
		msg += n + 2;
	say(L, path, 1, 1, 0, "%s", msg);
}

/* An error message from a loader already starts with its location (maybe an included file). */
static void say_err(lint *L, const char *msg, const char *file)
{
	const char *c = strchr(msg, ':');
	int line, col, n = 0;
	if (c && sscanf(c + 1, "%d:%d: %n", &line, &col, &n) == 2 && n > 0) {
		char f[1024];
		snprintf(f, sizeof f, "%.*s", (int)(c - msg), msg);
		say(L, f, line, col, 0, "%s", c + 1 + n);
		return;
	}
	say_conv(L, file, msg);
}

/* --- placeholders bound on one side only ------------------------------------- */

/* 1 when one of the n parsed templates names placeholder name. */
static int tpls_have(const match_tpl *t, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < t[i].n; j++)
			if (t[i].seg[j].ph && !strcmp(t[i].seg[j].name, name))
				return 1;
	return 0;
}

/* A target placeholder the source does not bind (other than the one a stack gathers over)
 * cannot be filled in this direction. */
static void check_sides(lint *L, const prog *p, const prog_rule *r)
{
	const rule_key *k = r->key;
	if (!r->n_tpl[PROG_SRC] || !r->n_tpl[PROG_DST])
		return;
	for (size_t i = 0; i < k->scope->n_ph; i++) {
		const char *ph = k->scope->ph[i].name;
		if (tpls_have(r->tpl[PROG_DST], r->n_tpl[PROG_DST], ph) && !tpls_have(r->tpl[PROG_SRC], r->n_tpl[PROG_SRC], ph) &&
			!(r->over && !strcmp(r->over, ph)))
			say(L, k->pos.file, k->pos.line, k->pos.col, 1,
				"placeholder <%s> appears only on the %s side, so %s -> %s cannot fill it: the rule works one way only",
				ph, rule_side_name(p->to), rule_side_label(p->from), rule_side_label(p->to));
	}
}

/* --- shadowing ----------------------------------------------------------------- */

/* Up to 2 sample values a placeholder regex accepts. */
static size_t samples(const char *rx, char out[2][32])
{
	static const char *const cand[] = {"0", "7", "12", "weight", "bias", "x", "a.b", "inv_freq", ""};
	size_t n = 0;
	for (size_t i = 0; i < sizeof cand / sizeof *cand && n < 2; i++)
		if (match_regex_accepts(rx, cand[i]) > 0)
			snprintf(out[n++], 32, "%s", cand[i]);
	return n;
}

/* 1 if every sample key of rule r's source templates is caught by an earlier rule. */
static int shadowed(const prog *p, size_t r, size_t *by)
{
	const prog_rule *pr = &p->r[r];
	const rule_key *k = pr->key;
	size_t ns = pr->n_tpl[PROG_SRC], tried = 0;
	if (!ns)
		return 0;
	for (size_t j = 0; j < ns; j++) {
		const match_tpl *src = &pr->tpl[PROG_SRC][j];
		match_bind b = {0};
		char vals[MATCH_MAX_BIND][2][32];
		size_t nv[MATCH_MAX_BIND];
		for (size_t i = 0; i < k->scope->n_ph && b.n < MATCH_MAX_BIND; i++) {
			if (!tpls_have(src, 1, k->scope->ph[i].name))
				continue;
			nv[b.n] = samples(k->scope->ph[i].regex, vals[b.n]);
			if (!nv[b.n])
				return 0;
			snprintf(b.name[b.n], sizeof b.name[0], "%s", k->scope->ph[i].name);
			b.n++;
		}
		for (size_t combo = 0; combo < 2; combo++) { /* all-first and all-second samples */
			char *key = NULL;
			match_hit h;
			ck_err e = {0};
			for (size_t i = 0; i < b.n; i++) {
				const char *v = vals[i][combo < nv[i] ? combo : 0];
				snprintf(b.val[i], sizeof b.val[0], "%s", v);
				char *end;
				long long x = strtoll(v, &end, 10);
				b.num[i] = *v && !*end ? x : -1;
			}
			if (match_fill(src, &b, &key, &e))
				return 0;
			int m = prog_match(p, key, &h, &e);
			free(key);
			if (m <= 0 || h.rule >= r || p->r[h.rule].key->when)
				return 0; /* a rule with `when` lets the later ones apply when it is false */
			*by = h.rule;
			tried++;
		}
	}
	return tried > 0;
}

/* p[side]: the rules compiled for reading that side. */
static void check_shadow(lint *L, prog *p[2])
{
	for (size_t r = 0; r < p[RULE_HF]->n; r++) {
		const rule_key *k = p[RULE_HF]->r[r].key;
		size_t by[2] = {0, 0};
		int live = 0, sides = 0, first = -1;
		if (k->creates)
			continue; /* a create rule's job is the other direction */
		for (int d = 0; d < 2; d++) {
			if (!p[d]->r[r].n_tpl[PROG_SRC])
				continue;
			sides++;
			first = first < 0 ? d : first;
			live |= !shadowed(p[d], r, &by[d]);
		}
		const rule_key *a = p[RULE_HF]->r[by[first < 0 ? RULE_HF : first]].key;
		/* the same rule met again through a second include (e.g. the optional `model.`
		 * prefix) is shadowed on purpose */
		if (sides && !live && !(!strcmp(a->pos.file, k->pos.file) && a->pos.line == k->pos.line && a->pos.col == k->pos.col)) {
			say(L, k->pos.file, k->pos.line, k->pos.col, 1,
				"rule never applies: the earlier rule at %s:%d:%d matches every key it matches", a->pos.file,
				a->pos.line, a->pos.col);
		}
	}
}

/* --- names and config keys in expressions ---------------------------------------- */

typedef struct refs {
	lint *L;
	const rule_set *s;
	const rule_file *scope;
	rule_pos pos;
	const char *extra; /* a name bound by `for:` */
	json_t *known[2]; /* per side: known config keys, or NULL when the set has no config */
	const rule_cfg *cfg; /* the config rule whose expressions are checked (its own `let` names) */
} refs;

static void add_keys(json_t *set, char **v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char top[256];
		snprintf(top, sizeof top, "%.*s", (int)strcspn(v[i], "."), v[i]);
		json_object_set_new(set, top, json_true());
	}
}

static void add_obj_keys(json_t *set, const json_t *obj)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)obj, k, v) json_object_set_new(set, k, json_true());
}

static void one_ref(void *ctx, const char *path)
{
	refs *R = ctx;
	char root[64], key[256];
	size_t n = strcspn(path, ".");
	snprintf(root, sizeof root, "%.*s", (int)n, path);
	const char *rest = path[n] ? path + n + 1 : "";
	for (int side = 0; side < 2; side++) {
		json_t *known = R->known[side];
		if (strcmp(root, rule_side_name(side)))
			continue;
		if (side == RULE_CS) {
			/* beside the model section: a section some rule names by a rooted key (`/optimizer.x`) */
			snprintf(key, sizeof key, "/%.*s", (int)strcspn(rest, "."), rest);
			if (*rest && strncmp(rest, "model", 5) && known && json_object_get(known, key))
				return;
			if (*rest && strncmp(rest, "model", 5)) {
				say(R->L, R->pos.file, R->pos.line, R->pos.col, 1, "'%s': CS values are read as cs.model.<key>", path);
				return;
			}
			rest = rest[5] == '.' ? rest + 6 : "";
		}
		snprintf(key, sizeof key, "%.*s", (int)strcspn(rest, "."), rest);
		if (known && *key && !json_object_get(known, key))
			say(R->L, R->pos.file, R->pos.line, R->pos.col, 1,
				"'%s': no config rule or default mentions %s key '%s'", path, rule_side_label(side), key);
		return;
	}
	if (!strcmp(root, "out") || !strcmp(root, "cs_major") || !strcmp(root, "cs_minor") ||
		(R->extra && !strcmp(root, R->extra)))
		return;
	for (size_t i = 0; i < R->scope->n_let; i++)
		if (!strcmp(R->scope->let[i].name, root))
			return;
	for (size_t i = 0; R->cfg && i < R->cfg->n_let; i++)
		if (!strcmp(R->cfg->let[i].name, root))
			return;
	for (size_t i = 0; i < R->scope->n_ph; i++) /* bound while creating keys */
		if (!strcmp(R->scope->ph[i].name, root))
			return;
	say(R->L, R->pos.file, R->pos.line, R->pos.col, 0, "unknown name '%s' (not hf, cs, a let or a placeholder of %s)",
		root, R->scope->path);
}

static void refs_of(refs *R, const rule_file *scope, rule_pos pos, const expr *x)
{
	if (!x)
		return;
	R->scope = scope;
	R->pos = pos;
	expr_refs(x, one_ref, R);
}

static void check_refs(lint *L, const rule_set *s)
{
	const rule_file *root = s->files[0];
	refs R = {L, s, root, {0}, NULL, {NULL, NULL}, NULL};
	for (int side = 0; root->n_cfg && side < 2; side++) {
		json_t *known = R.known[side] = json_object();
		for (size_t i = 0; i < root->n_cfg; i++) {
			add_keys(known, root->cfg[i].key[side], root->cfg[i].n_key[side]);
			add_keys(known, root->cfg[i].set_key[side], root->cfg[i].n_set[side]);
		}
		add_obj_keys(known, root->defaults[side]);
		add_obj_keys(known, root->out[side]);
		for (size_t i = 0; i < root->n_comp; i++) /* model-level rules see whole components */
			json_object_set_new(known, root->comp[i].section[side], json_true());
	}
	if (root->n_cfg && root->mup) { /* the muP keys a model folds are known CS keys */
		add_keys(R.known[RULE_CS], root->mup->drop, root->mup->n_drop);
		add_obj_keys(R.known[RULE_CS], root->mup->set);
	}
	for (size_t f = 0; f < s->n_files; f++)
		for (size_t i = 0; i < s->files[f]->n_let; i++)
			refs_of(&R, s->files[f], s->files[f]->let[i].pos, s->files[f]->let[i].x);
	for (size_t r = 0; r < s->n_keys; r++) {
		const rule_key *k = &s->keys[r];
		R.extra = k->for_name;
		for (size_t i = 0; i < k->n_act; i++)
			for (size_t j = 0; j < k->act[i].n; j++)
				if (vocab_get(k->act[i].kind)->p[k->act[i].p[j].slot].type != VOCAB_P_PLACEHOLDER)
					refs_of(&R, k->scope, k->act[i].p[j].pos, k->act[i].p[j].x);
		refs_of(&R, k->scope, k->pos, k->gen_shape);
		refs_of(&R, k->scope, k->pos, k->gen_value);
		refs_of(&R, k->scope, k->pos, k->for_list);
		refs_of(&R, k->scope, k->shape_pos, k->shape[0]);
		refs_of(&R, k->scope, k->shape_pos, k->shape[1]);
		refs_of(&R, k->scope, k->pos, k->when);
		R.extra = NULL;
	}
	for (size_t i = 0; i < root->n_cfg; i++) {
		const rule_cfg *c = &root->cfg[i];
		R.cfg = c;
		for (size_t j = 0; j < c->n_let; j++)
			refs_of(&R, root, c->let[j].pos, c->let[j].x);
		for (int side = 1; side >= 0; side--) { /* to_cs, to_hf, then the checks: as written before */
			for (size_t j = 0; j < c->n_set[side]; j++)
				refs_of(&R, root, c->pos, c->set[side][j]);
		}
		refs_of(&R, root, c->pos, c->check[RULE_HF]);
		refs_of(&R, root, c->pos, c->check[RULE_CS]);
		refs_of(&R, root, c->pos, c->note[RULE_HF]);
		refs_of(&R, root, c->pos, c->note[RULE_CS]);
		R.cfg = NULL;
	}
	if (root->mup) {
		const rule_mup *m = root->mup;
		refs_of(&R, m->scope, m->pos, m->detect);
		refs_of(&R, m->scope, m->pos, m->invalid);
		for (size_t i = 0; i < m->n_tensors; i++)
			for (size_t j = 0; j < m->tensors[i].n_act; j++)
				for (size_t q = 0; q < m->tensors[i].act[j].n; q++)
					refs_of(&R, m->tensors[i].scope, m->tensors[i].act[j].p[q].pos, m->tensors[i].act[j].p[q].x);
	}
	json_decref(R.known[RULE_HF]);
	json_decref(R.known[RULE_CS]);
}

/* --- coverage against real keys ------------------------------------------------------ */

/* p[side]: the rules compiled for reading that side; the keys are read from side L->keys_cs. */
static void check_keys(lint *L, prog *p[2])
{
	rule_side d = L->keys_cs ? RULE_CS : RULE_HF;
	const prog *fwd = p[d], *back = p[!d];
	unsigned char *used = calloc(fwd->n ? fwd->n : 1, 1);
	if (!used)
		return;
	for (size_t i = 0; i < L->n_keys; i++) {
		match_hit h, hb;
		ck_err e = {0};
		const char *key = L->keys[i];
		if (prog_match(fwd, key, &h, &e) <= 0) {
			say(L, L->keys_path, (int)i + 1, 1, 0, "key '%s': no rule matches it", key);
			continue;
		}
		used[h.rule] = 1;
		const prog_rule *r = &fwd->r[h.rule];
		size_t nd = r->n_tpl[PROG_DST];
		for (size_t t = 0; t < nd; t++) {
			char *tk = NULL, *bk = NULL;
			if (match_fill(&r->tpl[PROG_DST][t], &h.b, &tk, &e))
				continue; /* stacked: the placeholder comes from the data */
			if (prog_match(back, tk, &hb, &e) <= 0) {
				say(L, L->keys_path, (int)i + 1, 1, 1, "key '%s' -> '%s' which no rule converts back", key, tk);
			} else {
				const prog_rule *rb = &back->r[hb.rule];
				size_t nb = rb->n_tpl[PROG_DST];
				if (nb && !match_fill(&rb->tpl[PROG_DST][nb == 1 ? 0 : hb.slot < nb ? hb.slot : 0], &hb.b, &bk, &e) &&
					strcmp(bk, key) && nb == 1 && nd == 1)
					say(L, L->keys_path, (int)i + 1, 1, 1, "key '%s' -> '%s' -> '%s': does not convert back to itself", key,
						tk, bk);
			}
			free(tk);
			free(bk);
		}
	}
	/* a rule included twice (with another prefix) counts as used when either copy matched */
	strmap hit;
	strmap_init(&hit);
	char pos[1200];
	for (size_t r = 0; r < fwd->n; r++)
		if (used[r]) {
			const rule_pos *at = &fwd->r[r].key->pos;
			snprintf(pos, sizeof pos, "%s:%d:%d", at->file, at->line, at->col);
			strmap_put(&hit, pos, 1);
		}
	for (size_t r = 0; r < fwd->n; r++) {
		const rule_pos *at = &fwd->r[r].key->pos;
		size_t dummy;
		snprintf(pos, sizeof pos, "%s:%d:%d", at->file, at->line, at->col);
		if (!strmap_get(&hit, pos, &dummy) && fwd->r[r].n_tpl[PROG_SRC])
			say(L, at->file, at->line, at->col, 1, "rule matched none of the %zu keys of %s", L->n_keys, L->keys_path);
	}
	strmap_dispose(&hit);
	free(used);
}

/* --- one file ------------------------------------------------------------------------- */

static void check_set(lint *L, const rule_set *s)
{
	prog *p[2] = {NULL, NULL}; /* every rule, whatever its `when`: no config here */
	for (int d = 0; d < 2; d++) {
		ck_err me = {0};
		if (prog_compile(s, d, NULL, &p[d], &me)) {
			say_err(L, me.msg, s->files[0]->path);
			break; /* the other direction would mostly repeat it */
		}
		for (size_t r = 0; r < p[d]->n; r++)
			check_sides(L, p[d], &p[d]->r[r]);
	}
	if (p[0] && p[1]) {
		check_shadow(L, p);
		if (L->keys)
			check_keys(L, p);
	}
	check_refs(L, s);
	prog_free(p[0]);
	prog_free(p[1]);
}

/* The lint reads a rule file with rule.c's loaders, not model_open (model.c), on purpose: it
 * checks every file, shared pieces with no `model:` too, and reports every broken component of
 * a model where model_open stops at the first; model_open is these same calls (rule_set_load,
 * then each component's). Key rules are checked compiled (prog.c, as convert runs them);
 * check_refs reads expressions in the AST, as written, since what it reports are names in the
 * source text. `validate --config` opens the model with model_open (check_config). */
static void check_file(lint *L, const char *path)
{
	ck_err e = {0};
	rule_set *s = NULL;
	if (rule_set_load(path, &s, &e)) {
		say_err(L, e.msg, path);
		return;
	}
	const rule_file *f = s->files[0];
	if (!f->n_comp)
		check_set(L, s);
	for (size_t i = 0; i < f->n_comp; i++) { /* each component's rules, as the model uses them; every broken one */
		rule_set *cs = NULL;
		ck_err ce = {0};
		if (rule_load_component(s, i, &cs, &ce))
			say_err(L, ce.msg, path);
		else
			check_set(L, cs);
		rule_set_free(cs);
	}
	if (f->n_comp)
		check_refs(L, s);
	rule_set_free(s);
}

/* The functions a file defines, each with its steps and the inverse the loader derived. */
static void print_functions(const char *path)
{
	rule_file *f = NULL;
	ck_err e = {0};
	if (rule_file_load(path, &f, &e))
		return;
	for (size_t i = 0; i < fn_table_count(f->fns); i++) {
		const fn_def *d = fn_table_at(f->fns, i);
		printf("%s:%d:%d: function %s(", d->pos.file, d->pos.line, d->pos.col, d->name);
		for (size_t j = 0; j < d->n_params; j++)
			printf("%s%s", j ? ", " : "", d->params[j]);
		printf("):");
		for (size_t j = 0; j < d->n_steps; j++)
			printf("%s%s", j ? ", " : " ", d->steps[j].name);
		printf("; inverse:");
		for (size_t j = d->n_steps; j-- > 0;)
			printf("%s%s", j + 1 < d->n_steps ? ", " : " ", vocab_name(vocab_get(d->steps[j].kind)->inverse));
		printf("\n");
	}
	rule_file_free(f);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static size_t check_dir(lint *L, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0;
	if (!d) {
		say(L, dir, 1, 1, 0, "cannot open directory");
		return 0;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char *p = NULL, **nv;
		if (len < 6 || strcmp(de->d_name + len - 5, ".yaml") || asprintf(&p, "%s/%s", dir, de->d_name) < 0)
			continue;
		if (!(nv = realloc(v, (n + 1) * sizeof *nv))) {
			free(p);
			break;
		}
		v = nv;
		v[n++] = p;
	}
	closedir(d);
	qsort(v, n, sizeof *v, cmp_str);
	for (size_t i = 0; i < n; i++) {
		check_file(L, v[i]);
		free(v[i]);
	}
	free(v);
	return n;
}

/* --keys: a checkpoint (its tensor names) or a text file with one key per line. */
static int load_keys(lint *L, ck_err *e)
{
	ck_tsrc *s = NULL;
	FILE *f;
	char line[4096];
	int packed = 0;
	if (path_is_dir(L->keys_path) || cli_open_source(L->keys_path, &s, e) == 0) {
		if (!s && cli_open_source(L->keys_path, &s, e))
			return e->code;
		ck_err_clear(e);
		packed = !path_is_dir(L->keys_path) && h5ck_is_hdf5(L->keys_path);
		int cs = L->from ? !strcmp(L->from, "cs") : packed;
		for (size_t i = 0; i < s->n; i++) {
			const char *k = s->t[i].name;
			if (cs && !strncmp(k, "model.", 6)) /* the packed file's top-level `model` dict */
				k += 6;
			char **nv = realloc(L->keys, (L->n_keys + 1) * sizeof *nv);
			if (!nv)
				break;
			L->keys = nv;
			L->keys[L->n_keys++] = strdup(k);
		}
		ck_tsrc_free(s);
		L->keys_cs = L->from ? !strcmp(L->from, "cs") : packed;
		return 0;
	}
	ck_err_clear(e);
	struct stat sb;
	int fd, rc;
	if ((rc = io_open_input(L->keys_path, &fd, &sb, e)))
		return rc;
	if (!(f = fdopen(fd, "r"))) {
		close(fd);
		return ck_errf(e, CK_ENOMEM, "%s: cannot read the key list", L->keys_path);
	}
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = '\0';
		char **nv = realloc(L->keys, (L->n_keys + 1) * sizeof *nv);
		if (!nv)
			break;
		L->keys = nv;
		L->keys[L->n_keys++] = strdup(line);
	}
	fclose(f);
	L->keys_cs = L->from && !strcmp(L->from, "cs");
	return 0;
}

/* --- a real config against its model's rules (--config) -------------------------------------- */

/* muP keys as a conversion to HF handles them: removed when the rules' `mup.detect` holds. */
static void strip_mup(lint *L, const char *path, const rule_set *s, json_t *cfg, json_t *vars)
{
	const rule_mup *m = s->files[0]->mup;
	json_t *wrap = json_pack("{sO}", "model", cfg);
	ck_err e = {0};
	int mup = wrap ? model_mup(s, wrap, vars, path, &e) : ck_errf(&e, CK_ENOMEM, "out of memory");
	if (mup > 0) { /* as convert decides it (model.c) */
		for (size_t i = 0; i < m->n_drop; i++)
			json_object_del(cfg, m->drop[i]);
		if (!m->n_tensors)
			say(L, path, 1, 1, 1, "a muP config, which %s cannot fold (refused unless --no-mup-to-sp)", m->pos.file);
	} else if (mup < 0) {
		say_conv(L, path, e.msg);
	}
	json_decref(wrap);
}

/* How a config of each side treats a key no rule accounts for (config.c: CS params are a closed
 * schema, HF configs carry tooling noise). */
static const struct {
	const char *what, *then;
	int warn;
} unaccounted[2] = {[RULE_HF] = {"HF", "left out, with a note", 1},
	[RULE_CS] = {"CS model", "an error on the way to HF", 0}};

/* One config of side `side` against one rule set: the keys no rule accounts for, then what a
 * conversion says. */
static void config_against(lint *L, const char *path, const rule_set *s, rule_side side, const json_t *cfg)
{
	ck_err e = {0};
	json_t *copy = json_deep_copy(cfg), *out = NULL;
	json_t *vars = json_pack("{s{}sisi}", "out", "cs_major", 2, "cs_minor", 9);
	char *u = NULL, *warn = NULL;
	if (!copy || !vars) {
		say_err(L, "out of memory", path);
		goto done;
	}
	if ((u = config_unaccounted(s, side, cfg)))
		say(L, path, 1, 1, unaccounted[side].warn, "%s keys no rule of %s accounts for: %s (%s)", unaccounted[side].what,
			s->files[0]->path, u, unaccounted[side].then);
	if (side == RULE_CS) { /* as a conversion to HF reads them: numbers written as strings, muP keys */
		char *notes = NULL;
		if (config_cs_numbers(s, copy, NULL, path, &notes)) {
			say_err(L, "out of memory", path);
			goto done;
		}
		free(notes); /* convert tells; here nothing is wrong */
		strip_mup(L, path, s, copy, vars);
	}
	if (!(u && !unaccounted[side].warn) && config_convert_vars(s, side, copy, path, vars, &out, &warn, &e))
		say_conv(L, path, e.msg);
done:
	free(u);
	free(warn);
	json_decref(out);
	json_decref(copy);
	json_decref(vars);
}

static void check_config(lint *L, const char *path, const char *rules, const char *name)
{
	ck_err e = {0};
	json_t *raw = NULL, *m = NULL, *wrap = NULL;
	char *dir = cli_rules_dir(rules);
	model *mo = NULL;
	int cs = !path_ends_with(path, ".json");
	if (cs ? valio_yaml_load(path, &raw, &e) : valio_json_load(path, &raw, &e)) {
		say_err(L, e.msg, path);
		goto done;
	}
	if (cs) { /* the model section, flat or in trainer layout */
		m = config_params_model(raw);
		if (!json_is_object(m)) {
			say(L, path, 1, 1, 0, "no 'model:' mapping (nor trainer.init.model)");
			goto done;
		}
		wrap = json_pack("{sO}", "model", m);
	} else if (!json_is_object(raw)) {
		say(L, path, 1, 1, 0, "an HF config.json is a JSON object");
		goto done;
	}
	model_query q = {.rules_dir = dir, .name = name, .hf = cs ? NULL : raw, .cs = wrap, .where = path};
	if (model_open(&q, &mo, &e)) {
		say_err(L, e.msg, path);
		goto done;
	}
	const rule_file *f = model_file(mo);
	if (f->n_comp && !cs) {
		say(L, path, 1, 1, 0, "%s has components: check its CS params, or each component's config.json "
			"with --model naming the component's rules", f->model);
		goto done;
	}
	if (cs) { /* the release's layout of the section -> the one the rules read, as convert does */
		json_t *sec = json_deep_copy(m);
		if (!sec || config_layout(mo->top, RULE_HF, &sec, NULL, path, &e)) {
			say_conv(L, path, sec ? e.msg : "out of memory");
			json_decref(sec);
			goto done;
		}
		json_object_set_new(wrap, "model", sec);
		m = sec;
	}
	/* a single-component model's rules: its own, or those of the model a wrapper holds */
	config_against(L, path, f->n_comp ? mo->top : mo->sets[0], cs ? RULE_CS : RULE_HF, cs ? m : raw);
	for (size_t i = 0; i < f->n_comp; i++) { /* each component's section, with its own rules */
		json_t *sec = json_object_get(m, f->comp[i].config);
		if (!json_is_object(sec))
			say(L, path, 1, 1, 0, "model.%s: expected the %s component's config mapping", f->comp[i].config,
				f->comp[i].dir);
		else
			config_against(L, path, mo->sets[i], RULE_CS, sec);
	}
done:
	model_free(mo);
	free(dir);
	json_decref(wrap);
	json_decref(raw);
}

const struct option cli_validate_opts[] = {{"rules", required_argument, NULL, 'r'}, {"keys", required_argument, NULL, 'k'},
	{"from", required_argument, NULL, 'f'}, {"strict", no_argument, NULL, 's'},
	{"config", required_argument, NULL, 'c'}, {"model", required_argument, NULL, 'm'},
	{"format", required_argument, NULL, 'F'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};

int cli_validate(int argc, char **argv, ck_err *e)
{
	const char *rules = NULL, *config = NULL, *model = NULL, *v;
	size_t count = 0;
	int given = 0, strict = 0, rc = 0;
	const char **paths = NULL;
	lint L;
	memset(&L, 0, sizeof L);
	strmap_init(&L.seen);
	int n_paths = 0, c;
	paths = calloc((size_t)argc + 1, sizeof *paths);
	if (!paths) {
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
		goto done;
	}
	for (optind = 0; (c = cli_getopt(argc, argv, "validate", "h", cli_validate_opts, &v, e)) != -1;) {
		switch (c) {
		case CLI_OPT_ERROR: rc = CK_EUSAGE; goto done;
		case 'h': fputs(cli_validate_usage, stdout); goto done;
		case 'r': rules = v; break;
		case 'k': L.keys_path = v; break;
		case 'f': L.from = v; break;
		case 's': strict = 1; break;
		case 'c': config = v; break;
		case 'm': model = v; break;
		case 'F':
			if (!strcmp(v, "text") || !strcmp(v, "json") || !strcmp(v, "github")) {
				L.fmt = !strcmp(v, "json") ? FMT_JSON : !strcmp(v, "github") ? FMT_GITHUB : FMT_TEXT;
				break;
			}
			rc = ck_errf(e, CK_EUSAGE, "validate: --format takes text, json or github, not '%s'", v);
			goto done;
		default: paths[n_paths++] = v; /* an operand: a rule file or directory */
		}
	}
	if (L.fmt == FMT_JSON && !(L.findings = json_array())) {
		rc = ck_errf(e, CK_ENOMEM, "out of memory");
		goto done;
	}
	if (config) {
		check_config(&L, config, rules, model);
		if (L.errors || (strict && L.warnings))
			rc = ck_errf(e, CK_EINVALID, "validate: %s: %d error(s), %d warning(s)", config, L.errors, L.warnings);
		else if (L.fmt == FMT_TEXT)
			printf("%s: every key accounted for%s\n", config, L.warnings ? " (with warnings)" : "");
		count = 1;
		goto report;
	}
	if (L.keys_path && (rc = load_keys(&L, e)))
		goto done;
	for (int i = 0; i < n_paths; i++) {
		given = 1;
		if (path_is_dir(paths[i])) {
			count += check_dir(&L, paths[i]);
		} else {
			int before = L.errors;
			check_file(&L, paths[i]);
			if (L.errors == before && L.fmt == FMT_TEXT) /* a file named on its own: its functions too */
				print_functions(paths[i]);
			count++;
		}
	}
	if (!given) {
		char *dir = cli_rules_dir(rules);
		count += check_dir(&L, dir);
		free(dir);
	}
	if (L.errors || (strict && L.warnings))
		rc = ck_errf(e, CK_EINVALID, "validate: %d error(s), %d warning(s) in %zu rule file(s)", L.errors, L.warnings,
			count);
	else if (L.fmt == FMT_TEXT)
		printf("%zu rule file(s) OK%s\n", count, L.warnings ? " (with warnings)" : "");
report:
	if (L.fmt == FMT_JSON && cli_json_print(json_pack("{s:I, s:i, s:i, s:O}", "files", (json_int_t)count, "errors",
			L.errors, "warnings", L.warnings, "findings", L.findings), e))
		rc = CK_ENOMEM;
done:
	json_decref(L.findings);
	free(paths);
	for (size_t i = 0; i < L.n_keys; i++)
		free(L.keys[i]);
	free(L.keys);
	strmap_dispose(&L.seen);
	return rc;
}
