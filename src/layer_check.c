/* The layer check (src/meson.build): this program is linked with one layer
 * whole and only the layers below it, so that a layer that calls one above
 * it fails to link.  It does nothing. */
int main(void)
{
    return 0;
}
