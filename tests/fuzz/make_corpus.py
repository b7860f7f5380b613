#!/usr/bin/python3
"""Regenerates the seed corpora in tests/fuzz/corpus/ from tests/golden/ and rules/ (run from the
repository root). The h5ck seeds come from the harness's own template: pass the path of a packed
file written like fuzz_h5ck.c's template (see tests/fuzz/README.md) as the first argument."""
import glob, json, os, shutil, struct, sys
import yaml

C = 'tests/fuzz/corpus'


def d(n):
    p = os.path.join(C, n)
    os.makedirs(p, exist_ok=True)
    return p


def w(n, name, data):
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d(n), name), 'wb') as f:
        f.write(data)


SIZE = {'BOOL': 1, 'U8': 1, 'I8': 1, 'I16': 2, 'U16': 2, 'I32': 4, 'U32': 4, 'I64': 8, 'U64': 8,
        'F16': 2, 'BF16': 2, 'F32': 4, 'F64': 8}


def st(h, data=b''):
    t = json.dumps(h, separators=(',', ':')).encode()
    t += b' ' * (-len(t) % 8)
    return struct.pack('<Q', len(t)) + t + data


def shrink(src, keep=6):
    """A real header cut to its first `keep` tensors, each shrunk to at most 2 per dim."""
    raw = open(src, 'rb').read()
    n = struct.unpack('<Q', raw[:8])[0]
    hdr = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    meta = hdr.pop('__metadata__', None)
    out, data = ({'__metadata__': meta} if meta is not None else {}), b''
    for k in sorted(hdr, key=lambda k: hdr[k]['data_offsets'][0])[:keep]:
        e = hdr[k]
        a = e['data_offsets'][0]
        shape = [min(x, 2) for x in e['shape']]
        nb = SIZE[e['dtype']]
        for x in shape:
            nb *= x
        out[k] = {'dtype': e['dtype'], 'shape': shape, 'data_offsets': [len(data), len(data) + nb]}
        data += body[a:a + nb].ljust(nb, b'\0')
    return st(out, data)


def seeds_st():
    for name, src in [('gpt2', 'tests/golden/st/gpt2.safetensors'),
                      ('mixtral', 'tests/golden/st/mixtral.safetensors'),
                      ('llama-shard1', 'tests/golden/st/llama_sharded/model-00001-of-00002.safetensors'),
                      ('dragon-cs', 'tests/golden/dragon/cs/model.safetensors'),
                      ('llava-image', 'tests/golden/llava/hf/image_model/model.safetensors')]:
        w('st', name + '.safetensors', shrink(src))
    w('st', 'empty-header.safetensors', st({}))
    w('st', 'metadata-only.safetensors', st({'__metadata__': {'format': 'pt'}}))
    w('st', 'scalar-and-empty.safetensors',
      st({'s': {'dtype': 'F64', 'shape': [], 'data_offsets': [0, 8]},
          'z': {'dtype': 'BOOL', 'shape': [0, 3], 'data_offsets': [8, 8]}}, b'\0' * 8))
    ents, off = {}, 0
    for k, s in SIZE.items():
        ents[k.lower()] = {'dtype': k, 'shape': [1], 'data_offsets': [off, off + s]}
        off += s
    w('st', 'all-dtypes.safetensors', st(ents, b'\1' * off))


def seeds_st_index():
    s1, s2 = 'shard-1.safetensors', 'shard-2.safetensors'
    w('st_index', 'ok.json', json.dumps({'metadata': {'total_size': 30},
                                         'weight_map': {'a': s1, 'b': s1, 'c': s2, 'd': s2}}, indent=2))
    w('st_index', 'interleaved.json', json.dumps({'weight_map': {'c': s2, 'a': s1, 'd': s2, 'b': s1}}))
    w('st_index', 'missing-key.json', json.dumps({'weight_map': {'a': s1, 'c': s2, 'd': s2}}))
    w('st_index', 'wrong-shard.json', json.dumps({'weight_map': {'a': s2, 'b': s1, 'c': s2, 'd': s2}}))
    w('st_index', 'bad-name.json', json.dumps({'weight_map': {'a': '../' + s1}}))
    w('st_index', 'empty.json', json.dumps({'weight_map': {}}))
    shutil.copy('tests/golden/st/llama_sharded/model.safetensors.index.json', d('st_index') + '/llama.json')
    shutil.copy('tests/golden/st/gpt2_shard100000.index.json', d('st_index') + '/gpt2.json')


def golden(pattern, n):
    seen = set()
    for p in sorted(glob.glob(pattern, recursive=True)):
        b = open(p, 'rb').read()
        if b not in seen:
            seen.add(b)
            w(n, p.replace('tests/golden/', '').replace('/', '_'), b)


def seeds_json():
    golden('tests/golden/**/config.json', 'json')
    golden('tests/golden/valio/*.json', 'json')
    w('json', 'edge-values.json',
      '{"a": 1e308, "b": -0.0, "c": 9223372036854775807, "d": "\\u00e9\\ud83d\\ude00", "e": [null, true, false, [], {}],'
      ' "f": 1.5e-10, "g": "multi\\nline: yes", "h": "yes", "i": "0x1F", "j": "~", "k": "", "l": " lead", "m": 1e16}')
    w('json', 'top-array.json', '[1, 2.5, "x", {"k": []}]')
    w('json', 'top-string.json', '"just a string"')


def seeds_yaml():
    golden('tests/golden/**/params.yaml', 'yaml')
    w('yaml', 'typing.yaml', '''ints: [0, -1, +7, 0x1F, 0o17, 017, 0b101, 1_000, 190:20:30, 9223372036854775807]
floats: [1.5, -.5, 1e5, 1.0e+5, .inf, -.Inf, .nan, 190:20:30.15, 6.8523015e+5, 1_0.5]
bools: [yes, No, on, OFF, true, False, y, n]
nulls: [~, null, Null, ]
strings: ["1", '2', 2001-12-14, 2001-12-14t21:59:43.10-05:00, =, <<x, 'quoted: yes']
big: 99999999999999999999
tagged: !!str 123
nested: {a: [1, {b: c}], "k e y": x}
block: |
  literal
  text
folded: >
  folded
  text
''')
    w('yaml', 'anchors.yaml', 'base: &b {lr: 0.1, steps: [1, 2]}\nrun1: *b\nrun2: *b\nlist: &l [a, b]\nagain: *l\n')
    w('yaml', 'empty.yaml', '')
    w('yaml', 'multi-doc.yaml', 'a: 1\n---\nb: 2\n')


def seeds_ydoc():
    for f in os.listdir(d('yaml')):
        shutil.copy(os.path.join(d('yaml'), f), os.path.join(d('ydoc'), f))
    w('ydoc', 'laughs.yaml', 'a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: &c [*b, *b, *b, *b]\nd: [*c, *c, *c, *c]\n')
    w('ydoc', 'deep.yaml', '[' * 40 + ']' * 40 + '\n')
    w('ydoc', 'dup-key.yaml', 'a: 1\na: 2\n')
    w('ydoc', 'merge-key.yaml', 'base: &b {x: 1}\nd:\n  <<: *b\n')
    w('ydoc', 'tags.yaml', '%TAG !e! tag:example.com,2000:\n---\n!e!foo [!!map {a: !local b}, !!seq [], !!binary "AAAA"]\n')
    w('ydoc', 'complex-key.yaml', '? [a, b]\n: c\n')


def seeds_rule():
    for p in sorted(glob.glob('rules/*.yaml')):
        shutil.copy(p, os.path.join(d('rule'), os.path.basename(p)))


def seeds_expr():
    found = set()

    def walk(v, key=''):
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, k)
        elif isinstance(v, list):
            for x in v:
                walk(x, key)
        elif isinstance(v, str) and key not in ('hf', 'cs', 'note', 'message', 'regex') and \
                '<' not in v.split(' ')[0] and any(c in v for c in '.?()+*/=!') and len(v) < 400:
            found.add(v)
    for p in glob.glob('rules/*.yaml'):
        walk(yaml.safe_load(open(p)))
    extra = ["hf.rope_scaling ?? {type: 'linear', factor: 1.0}", "hf.num_key_value_heads ?? hf.num_attention_heads",
             "hf.hidden_size // hf.num_attention_heads", "cs_minor >= 3 ? 'a' : 'b'",
             "{type: 'linear', factor: cs.model.hidden_size / 2}", "[1, 2, 3][1]",
             "len(hf.architectures) == 1 && hf.architectures[0] == 'LlamaForCausalLM'",
             "'Llama' in hf.architectures[0]", "range(L)", "list(range(3)) + [4] * 2",
             "min(1, 2.5, -3) + max([1, 2]) + abs(-2) + pow(2, 10) + round(2.5)",
             "sqrt(cs.model.hidden_size / cs.model.num_heads)", "int('12') + float('1.5') + int(2.9)",
             "str(1e-05) + str(0.1) + str(10000.0)", "absent ?? 3", "absent == null", "hf.missing.deeper ?? 'x'",
             "items[6].k", "items[-1]", "s * 3", "cs.model.big + 1", "cs.model.neg - 2", "cs.model.big * cs.model.big",
             "cs.model.tiny / 10", "1 / 0", "7 % -3", "-7 // 2", "not_a_name", "!hf.tie_word_embeddings",
             "hf.rms_norm_eps * 2", "(((((1)))))", "1 < 2 < 3", "3 not in [1, 2]", "'a' + 'b' == 'ab' || false",
             "{a: 1, b: [2, {c: 3}]}.b[1].c", "empty.x ?? empty", "1e308 * 10", "len('h\u00e9llo')", "mup_w ?? 1.0",
             "\"dq\\n\" + 'sq\\''", "-(-1) - +1", "0.1 + 0.2", "1e-7", "hf.layers[L - 4]"]
    for i, e in enumerate(sorted(found) + extra):
        w('expr', 'e%03d' % i, e)


def seeds_h5ck(template):
    """Segment 0: __spec__ (empty: keep the template's); then "<key>\\n<json>" per key, NUL-separated."""
    import h5py
    with h5py.File(template, 'r') as f:
        spec = f.attrs['__spec__']
        metas = {k[:-len('.__metadata__')]: f.attrs[k] for k in f.attrs if k.endswith('.__metadata__')}
    def txt(v):
        return v.decode() if isinstance(v, bytes) else str(v)
    spec = txt(spec)
    metas = {k: txt(v) for k, v in metas.items()}
    seg = lambda k, v: (k + '\n' + v).encode()
    w('h5ck', 'template-as-is', b'')
    w('h5ck', 'spec-rewritten', spec.encode())
    w('h5ck', 'all-rewritten', b'\0'.join([spec.encode()] + [seg(k, v) for k, v in metas.items()]))
    for i, (k, v) in enumerate(metas.items()):
        w('h5ck', 'meta-%d' % i, b'\0' + seg(k, v))
    # an alias (LinkedObject) and a numpy leaf, the shapes cstorch writes
    k0 = next(iter(metas))
    m = json.loads(metas[k0])
    objs = m['__objects__']
    if objs:
        o = objs[0]
        link = dict(m)
        link[o + '.__metadata__'] = {'__TYPE__': 'TorchTensorSerializer', '__LINKED__': True, 'key': 'model.b'}
        w('h5ck', 'link', b'\0' + seg(k0, json.dumps(link)))
        npy = dict(m)
        npy[o + '.__metadata__'] = {'__TYPE__': 'NumpyArraySerializer', 'is_bfloat16': False}
        w('h5ck', 'numpy', b'\0' + seg(k0, json.dumps(npy)))
    w('h5ck', 'nonfinite', b'\0' + seg(k0, metas[k0][:-1] + ', "x": [NaN, Infinity, -Infinity, "NaN"]}'))


if __name__ == '__main__':
    for f in (seeds_st, seeds_st_index, seeds_json, seeds_yaml, seeds_ydoc, seeds_rule, seeds_expr):
        f()
    if len(sys.argv) > 1:
        seeds_h5ck(sys.argv[1])
    print({k: len(os.listdir(d(k))) for k in sorted(os.listdir(C))})
