/* main.c - placeholder until the CLI lands. */
#include <stdio.h>
int main(void)
{
	fprintf(stderr, "ckconv: not built yet\n");
	return 2;
}
