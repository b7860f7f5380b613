/* version.h - the one place the version lives. */
#ifndef CK_VERSION_H
#define CK_VERSION_H
#define CKCONV_VERSION "0.1.0"
#endif
