/* path.h - the file-name helpers every module shares (one definition each). */
#ifndef CK_PATH_H
#define CK_PATH_H

/* 1 if s ends with suffix. */
int path_ends_with(const char *s, const char *suffix);
/* 1 if p is a directory (following symlinks). */
int path_is_dir(const char *p);
/* The part after the last '/' (p itself when there is none); points into p. */
const char *path_base(const char *p);
/* The directory part: "." for a bare name, "/" for "/name" (malloc'd; NULL when out of memory). */
char *path_dir(const char *p);
/* dir + "/" + name (malloc'd; NULL when out of memory). */
char *path_join(const char *dir, const char *name);

#endif
