#!/usr/bin/env bash
# Runs bin/ckconv under valgrind (memcheck); any error or leak makes it exit 99. The sandboxed
# child h5ck forks to read HDF5 metadata exits without cleaning up: it is not reported.
# `make valgrind` points the e2e suite at this wrapper.
here=$(cd "$(dirname "$0")/.." && pwd)
exec valgrind -q --child-silent-after-fork=yes --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
	--show-leak-kinds=definite,indirect "${CKCONV_REAL:-$here/bin/ckconv}" "$@"
