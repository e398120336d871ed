/*
 * nanobragg_twin.c -- a small, readable C twin of the nanoBragg kernel.
 *
 * Same command line and physics as nanoBragg for the subset described in
 * docs/simkernel.md (MOSFLM convention, BEAM pivot, no detector rotations).
 * Double precision inside, float32 image out.
 *
 * Deliberate differences from nanoBragg:
 *   - The phi = 0 carry-over bug is NOT copied: the crystal is rotated at
 *     every phi step, including phi = 0, so results never depend on the
 *     OpenMP thread split.
 *   - Tricubic interpolation of structure factors is not implemented: when
 *     nanoBragg would switch it on (an HKL table and any N <= 2, or
 *     -interpolate) this program refuses with exit status 2; -nointerpolate
 *     keeps nearest-index lookup.
 *   - Only the files that were asked for are written (-floatfile, -intfile);
 *     Fdump.bin is never read or written.
 *   - Bad arguments exit with status 2 and a message naming the flag.
 *
 * Build: cc -O3 -fopenmp nanobragg_twin.c -o nanobragg_twin -lm
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define R_E_SQR 7.94079248018965e-30 /* classical electron radius squared, m^2 */
#define DEFAULT_FLUENCE 1.25932015286227e29
#define EXIT_USAGE 2

enum shape { SQUARE, ROUND, GAUSS, TOPHAT };

typedef struct { double x, y, z; } vec3;

static vec3 v_make(double x, double y, double z) { vec3 v = {x, y, z}; return v; }
static vec3 v_add(vec3 a, vec3 b) { return v_make(a.x + b.x, a.y + b.y, a.z + b.z); }
static vec3 v_sub(vec3 a, vec3 b) { return v_make(a.x - b.x, a.y - b.y, a.z - b.z); }
static vec3 v_scale(vec3 a, double s) { return v_make(a.x * s, a.y * s, a.z * s); }
static double v_dot(vec3 a, vec3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
static double v_len(vec3 a) { return sqrt(v_dot(a, a)); }
static vec3 v_unit(vec3 a) { double m = v_len(a); return m > 0 ? v_scale(a, 1.0 / m) : a; }
static vec3 v_cross(vec3 a, vec3 b)
{
    return v_make(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x);
}

/* Right-handed rotation of v about unit axis u by angle phi (Rodrigues). */
static vec3 rotate_axis(vec3 v, vec3 u, double phi)
{
    double s = sin(phi), c = cos(phi);
    double along = v_dot(u, v) * (1.0 - c);
    vec3 uxv = v_scale(v_cross(u, v), s);
    vec3 out = v_scale(v, c);
    return v_add(v_add(v_scale(u, along), uxv), out);
}

/* Rotation about X, then Y, then Z (the nanoBragg misset order). */
static vec3 rotate_xyz(vec3 v, double rx, double ry, double rz)
{
    vec3 t;
    t = v_make(v.x, v.y * cos(rx) - v.z * sin(rx), v.y * sin(rx) + v.z * cos(rx));
    v = t;
    t = v_make(v.x * cos(ry) + v.z * sin(ry), v.y, -v.x * sin(ry) + v.z * cos(ry));
    v = t;
    t = v_make(v.x * cos(rz) - v.y * sin(rz), v.x * sin(rz) + v.y * cos(rz), v.z);
    return t;
}

/* Row-major 3x3 matrix times column vector. */
static vec3 mat_apply(const double m[9], vec3 v)
{
    return v_make(m[0] * v.x + m[1] * v.y + m[2] * v.z,
                  m[3] * v.x + m[4] * v.y + m[5] * v.z,
                  m[6] * v.x + m[7] * v.y + m[8] * v.z);
}

/* ------------------------------------------------------------------ */
/* Parameters as given on the command line (nanoBragg units and "unset"  */
/* sentinels), converted to SI in derive().                            */
/* ------------------------------------------------------------------ */
typedef struct {
    int have_cell;
    double cell[6];                 /* A, deg */
    int have_misset;
    double misset[3];               /* deg */
    int Na, Nb, Nc;
    double default_F;
    const char *hklfile;
    enum shape shape;
    double fudge;
    double lambda_A;                /* A */
    double fluence, flux, exposure, beamsize_mm;
    double polar_K;
    int nopolar;
    double dispersion_pct, dispstep;
    int dispsteps;
    double hdivrange, vdivrange, hdivstep, vdivstep;   /* mrad; <0 = unset */
    int hdivsteps, vdivsteps;
    int round_div;
    double distance_mm, pixel_mm;
    double detsize_f_mm, detsize_s_mm;
    int detpixels_f, detpixels_s;
    int have_xbeam, have_ybeam;
    double xbeam_mm, ybeam_mm;
    int have_roi;
    int roi[4];                     /* xmin xmax ymin ymax */
    int oversample;
    int oversample_omega, oversample_polar, oversample_thick;
    int point_pixel;
    double phi0_deg, osc_deg, phistep_deg;
    int phisteps;
    double mosaic_deg;
    int mosaic_domains;
    long mosaic_seed;
    double thick_um, abs_um;
    int have_abs;
    int thicksteps;
    int interpolate;                /* -1 auto, 0 off, 1 on */
    const char *floatfile, *intfile;
    double scale, adc;              /* -intfile: counts per photon (have_scale) and offset */
    int have_scale;
    int have_trace, trace_s, trace_f;
} Args;

static const char *program = "nanobragg_twin";

static void print_usage(FILE *out)
{
    fprintf(out, "usage: %s -cell a b c alpha beta gamma (-default_F F | -hkl FILE) [options]; "
                 "%s --help lists every flag\n", program, program);
}

static void usage_error(const char *flag, const char *why)
{
    fprintf(stderr, "%s: error: %s: %s\n", program, flag, why);
    print_usage(stderr);
    exit(EXIT_USAGE);
}

/* ---- The command-line table shared with simkernel ------------------ */
enum kind { K_SWITCH, K_NUMBER, K_POSITIVE, K_INTEGER, K_COUNT, K_TEXT, K_CHOICE };

typedef struct {
    const char *name;
    int count;
    enum kind kind;
    const char *metavar, *unit, *deflt, *meaning;
    const char *alias_of;            /* ALIAS rows: the canonical name */
    int unsupported;                 /* UNSUPPORTED rows */
} Flag;

/*
 * THE command-line table of simkernel and this twin (one table for both programs):
 * simkernel/flags.py reads the rows between the BEGIN and END lines below, this program
 * compiles them. Both accept exactly these flags, require the same values, print the same
 * --help from the columns and word their errors alike. One row per line.
 *
 * FLAG(name, values, kind, metavar, unit, default, meaning)
 *   kind: SWITCH (no value), NUMBER (decimal), POSITIVE (decimal > 0), INTEGER (decimal
 *   digits), COUNT (integer >= 1), TEXT (any word), CHOICE (one of metavar's |-separated
 *   words; "cuda:N" stands for cuda: followed by digits).
 * ALIAS(name, canonical)   another spelling of a FLAG (nanoBragg's spellings).
 * UNSUPPORTED(name)        a nanoBragg flag neither program implements: rejected by name.
 */
static const Flag FLAGS[] = {
#define FLAG(n, c, k, m, u, d, h) {n, c, K_##k, m, u, d, h, NULL, 0},
#define ALIAS(n, target) {n, 0, K_SWITCH, "", "", "", "", target, 0},
#define UNSUPPORTED(n) {n, 0, K_SWITCH, "", "", "", "", NULL, 1},
/* BEGIN FLAG TABLE */
FLAG("-cell", 6, NUMBER, "a b c alpha beta gamma", "A, deg", "required", "unit cell lengths and angles")
FLAG("-misset", 3, NUMBER, "rx ry rz", "deg", "none", "crystal rotation about X, then Y, then Z")
FLAG("-N", 1, INTEGER, "n", "cells", "1", "unit cells along a, b and c (below 1 means 1)")
FLAG("-Na", 1, INTEGER, "n", "cells", "1", "unit cells along a")
FLAG("-Nb", 1, INTEGER, "n", "cells", "1", "unit cells along b")
FLAG("-Nc", 1, INTEGER, "n", "cells", "1", "unit cells along c")
FLAG("-default_F", 1, NUMBER, "F", "electrons", "0", "structure factor of every hkl not in the table")
FLAG("-hkl", 1, TEXT, "FILE", "h k l F text", "none", "P1 structure-factor table")
FLAG("-interpolate", 0, SWITCH, "", "-", "auto", "tricubic F interpolation (auto: on with -hkl and any N <= 2)")
FLAG("-nointerpolate", 0, SWITCH, "", "-", "auto", "nearest-index F lookup")
FLAG("-square_xtal", 0, SWITCH, "", "-", "on", "parallelepiped crystal: F_latt = product of sincg")
FLAG("-round_xtal", 0, SWITCH, "", "-", "off", "ellipsoidal crystal (sinc3 lattice factor)")
FLAG("-gauss_xtal", 0, SWITCH, "", "-", "off", "gaussian spots")
FLAG("-tophat_spots", 0, SWITCH, "", "-", "off", "tophat spots")
ALIAS("-binary_spots", "-tophat_spots")
FLAG("-fudge", 1, NUMBER, "x", "-", "1", "scales the spot radius of round/gauss/tophat")
FLAG("-lambda", 1, POSITIVE, "wavelength", "A", "1", "central wavelength")
ALIAS("-wave", "-lambda")
FLAG("-energy", 1, POSITIVE, "E", "eV", "12398.42", "photon energy (sets the wavelength to 12398.42/E A)")
FLAG("-fluence", 1, NUMBER, "fluence", "photons/m^2", "1.25932015286227e29", "incident fluence")
FLAG("-flux", 1, NUMBER, "flux", "photons/s", "0", "with -exposure and -beamsize: fluence = flux*exposure/beamsize^2")
FLAG("-exposure", 1, NUMBER, "t", "s", "1", "exposure time (with -flux)")
FLAG("-beamsize", 1, NUMBER, "size", "mm", "0.1", "beam size (with -flux)")
FLAG("-polar", 1, NUMBER, "K", "Kahn factor", "0", "polarisation factor")
FLAG("-nopolar", 0, SWITCH, "", "-", "off", "polarisation factor forced to 1")
FLAG("-dispersion", 1, NUMBER, "percent", "%", "0", "wavelength spread")
FLAG("-dispsteps", 1, INTEGER, "n", "count", "auto", "wavelength samples")
FLAG("-divergence", 1, NUMBER, "range", "mrad", "unset", "horizontal and vertical divergence range")
FLAG("-hdivrange", 1, NUMBER, "range", "mrad", "unset", "horizontal divergence range")
FLAG("-vdivrange", 1, NUMBER, "range", "mrad", "unset", "vertical divergence range")
FLAG("-hdivstep", 1, NUMBER, "step", "mrad", "unset", "horizontal divergence step")
FLAG("-vdivstep", 1, NUMBER, "step", "mrad", "unset", "vertical divergence step")
FLAG("-divsteps", 1, INTEGER, "n", "count", "auto", "horizontal and vertical divergence samples")
FLAG("-hdivsteps", 1, INTEGER, "n", "count", "auto", "horizontal divergence samples")
FLAG("-vdivsteps", 1, INTEGER, "n", "count", "auto", "vertical divergence samples")
FLAG("-square_div", 0, SWITCH, "", "-", "off", "keep the corners of the divergence grid")
FLAG("-round_div", 0, SWITCH, "", "-", "on", "trim the divergence grid to an ellipse")
FLAG("-distance", 1, POSITIVE, "d", "mm", "100", "sample to direct-beam-spot distance")
ALIAS("-close_distance", "-distance")
FLAG("-pixel", 1, POSITIVE, "p", "mm", "0.1", "pixel size")
FLAG("-detpixels", 1, COUNT, "n", "pixels", "from -detsize", "pixels along both axes")
FLAG("-detpixels_f", 1, COUNT, "n", "pixels", "from -detsize_f", "pixels along the fast axis")
ALIAS("-detpixels_x", "-detpixels_f")
FLAG("-detpixels_s", 1, COUNT, "n", "pixels", "from -detsize_s", "pixels along the slow axis")
ALIAS("-detpixels_y", "-detpixels_s")
FLAG("-detsize", 1, NUMBER, "size", "mm", "102.4", "detector size along both axes")
FLAG("-detsize_f", 1, NUMBER, "size", "mm", "102.4", "detector size along the fast axis")
ALIAS("-detsize_x", "-detsize_f")
FLAG("-detsize_s", 1, NUMBER, "size", "mm", "102.4", "detector size along the slow axis")
ALIAS("-detsize_y", "-detsize_s")
FLAG("-Xbeam", 1, NUMBER, "x", "mm", "(detsize_s+pixel)/2", "beam centre along the slow axis")
FLAG("-Ybeam", 1, NUMBER, "y", "mm", "(detsize_f+pixel)/2", "beam centre along the fast axis")
FLAG("-mosflm", 0, SWITCH, "", "-", "on", "MOSFLM convention (the only one)")
FLAG("-roi", 4, INTEGER, "xmin xmax ymin ymax", "pixel index", "whole detector", "render only these fast (x) and slow (y) pixels, inclusive")
FLAG("-oversample", 1, INTEGER, "n", "per axis", "auto", "n x n subpixels per pixel")
FLAG("-oversample_omega", 0, SWITCH, "", "-", "off", "multiply the running sum by each subpixel's solid angle")
FLAG("-oversample_polar", 0, SWITCH, "", "-", "off", "multiply the running sum by each subpixel's polarisation")
FLAG("-oversample_thick", 0, SWITCH, "", "-", "off", "multiply the running sum by each subpixel's capture fraction")
FLAG("-point_pixel", 0, SWITCH, "", "-", "off", "solid angle 1/R^2 (no obliquity)")
FLAG("-detector_thick", 1, NUMBER, "t", "um", "0", "sensor thickness")
FLAG("-detector_abs", 1, NUMBER, "length", "um", "thickness", "attenuation length (0: no absorption)")
FLAG("-thicksteps", 1, INTEGER, "n", "count", "auto", "sensor layers")
FLAG("-phi", 1, NUMBER, "phi0", "deg", "0", "spindle angle of the first step")
FLAG("-osc", 1, NUMBER, "range", "deg", "auto", "spindle oscillation range")
FLAG("-phistep", 1, NUMBER, "step", "deg", "auto", "spindle step")
FLAG("-phisteps", 1, INTEGER, "n", "count", "auto", "spindle steps")
FLAG("-mosaic", 1, NUMBER, "spread", "deg", "0", "mosaic spread")
ALIAS("-mosaic_spread", "-mosaic")
FLAG("-mosaic_domains", 1, INTEGER, "n", "count", "auto", "mosaic domains (10 with a spread and no count)")
ALIAS("-mosaic_dom", "-mosaic_domains")
FLAG("-mosaic_seed", 1, INTEGER, "seed", "-", "12345678", "mosaic random seed")
FLAG("-floatfile", 1, TEXT, "FILE", "path", "none", "write the image as raw float32")
FLAG("-intfile", 1, TEXT, "FILE", "path", "none", "write the image as SMV 16-bit")
FLAG("-scale", 1, NUMBER, "s", "counts/photon", "55000/max", "-intfile scale")
FLAG("-adc", 1, NUMBER, "offset", "counts", "40", "-intfile ADC offset")
FLAG("-noisefile", 1, TEXT, "FILE", "path", "none", "accepted, not written")
FLAG("-pgmfile", 1, TEXT, "FILE", "path", "none", "accepted, not written")
FLAG("-seed", 1, INTEGER, "seed", "-", "none", "noise seed (accepted, unused)")
FLAG("-nonoise", 0, SWITCH, "", "-", "-", "accepted (no noise file is written)")
FLAG("-nopgm", 0, SWITCH, "", "-", "-", "accepted (no PGM file is written)")
FLAG("-noprogress", 0, SWITCH, "", "-", "-", "accepted (no progress meter)")
FLAG("-progress", 0, SWITCH, "", "-", "-", "accepted (no progress meter)")
FLAG("-trace_pixel", 2, INTEGER, "slow fast", "pixel index", "none", "print the intermediate values of one pixel")
FLAG("-device", 1, CHOICE, "cpu|cuda|cuda:N", "-", "cuda if available", "where simkernel runs (the C twin ignores it)")
FLAG("-dtype", 1, CHOICE, "float32|float64", "-", "float64", "simkernel's precision (the C twin is always double)")
UNSUPPORTED("-mat")
UNSUPPORTED("-sourcefile")
UNSUPPORTED("-curved_det")
UNSUPPORTED("-xds")
UNSUPPORTED("-dials")
UNSUPPORTED("-adxv")
UNSUPPORTED("-denzo")
UNSUPPORTED("-custom")
UNSUPPORTED("-twotheta")
UNSUPPORTED("-twotheta_axis")
UNSUPPORTED("-detector_rotx")
UNSUPPORTED("-detector_roty")
UNSUPPORTED("-detector_rotz")
UNSUPPORTED("-pivot")
UNSUPPORTED("-water")
UNSUPPORTED("-dmin")
UNSUPPORTED("-Xclose")
UNSUPPORTED("-Yclose")
UNSUPPORTED("-ORGX")
UNSUPPORTED("-ORGY")
UNSUPPORTED("-spindle_axis")
UNSUPPORTED("-fdet_vector")
UNSUPPORTED("-sdet_vector")
UNSUPPORTED("-odet_vector")
UNSUPPORTED("-beam_vector")
UNSUPPORTED("-polar_vector")
UNSUPPORTED("-pix0_vector")
UNSUPPORTED("-xtalsize")
UNSUPPORTED("-samplesize")
UNSUPPORTED("-sample_thick")
UNSUPPORTED("-printout")
UNSUPPORTED("-misset_seed")
/* END FLAG TABLE */
#undef FLAG
#undef ALIAS
#undef UNSUPPORTED
};
static const int NFLAGS = (int)(sizeof FLAGS / sizeof FLAGS[0]);
#define HELP_HINT "--help lists the supported flags"
#define INT_LIMIT 2147483647.0

static const Flag *find_row(const char *name)
{
    for (int i = 0; i < NFLAGS; i++)
        if (strcmp(FLAGS[i].name, name) == 0) return &FLAGS[i];
    return NULL;
}

/* The FLAG row for a flag or its alias; NULL for unknown or unsupported names. */
static const Flag *lookup(const char *name)
{
    const Flag *row = find_row(name);
    if (row != NULL && row->alias_of != NULL) row = find_row(row->alias_of);
    return (row == NULL || row->unsupported) ? NULL : row;
}

static void print_help(void)
{
    print_usage(stdout);
    printf("\n%-36s %-16s %-20s %s\n", "flag and values", "unit", "default", "meaning");
    char left[128];
    for (int i = 0; i < NFLAGS; i++) {
        const Flag *f = &FLAGS[i];
        if (f->alias_of != NULL || f->unsupported) continue;
        snprintf(left, sizeof left, "%s%s%s", f->name, f->metavar[0] ? " " : "", f->metavar);
        printf("%-36s %-16s %-20s %s\n", left, f->unit, f->deflt, f->meaning);
    }
    for (int i = 0; i < NFLAGS; i++)
        if (FLAGS[i].alias_of != NULL) printf("%-36s same as %s\n", FLAGS[i].name, FLAGS[i].alias_of);
    printf("not supported:");
    for (int i = 0; i < NFLAGS; i++)
        if (FLAGS[i].unsupported) printf(" %s", FLAGS[i].name);
    printf("\n");
}

/* Decimal number: [+-] digits [. digits] or [+-] . digits, optional exponent. */
static int is_number(const char *t)
{
    if (*t == '+' || *t == '-') t++;
    int digits = 0;
    while (*t >= '0' && *t <= '9') { t++; digits++; }
    if (*t == '.') { t++; while (*t >= '0' && *t <= '9') { t++; digits++; } }
    if (digits == 0) return 0;
    if (*t == 'e' || *t == 'E') {
        t++;
        if (*t == '+' || *t == '-') t++;
        if (!(*t >= '0' && *t <= '9')) return 0;
        while (*t >= '0' && *t <= '9') t++;
    }
    return *t == '\0';
}

static int is_integer(const char *t)
{
    if (*t == '+' || *t == '-') t++;
    if (*t == '\0') return 0;
    for (; *t; t++)
        if (!(*t >= '0' && *t <= '9')) return 0;
    return 1;
}

/* One of metavar's |-separated words; "cuda:N" means cuda: followed by digits. */
static int choice_ok(const char *token, const char *choices)
{
    const char *start = choices;
    while (*start) {
        const char *end = strchr(start, '|');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        if (len >= 2 && start[len - 2] == ':' && start[len - 1] == 'N') {
            if (strncmp(token, start, len - 1) == 0 && token[len - 1] != '\0') {
                const char *d = token + len - 1;
                while (*d >= '0' && *d <= '9') d++;
                if (*d == '\0') return 1;
            }
        } else if (strlen(token) == len && strncmp(token, start, len) == 0) {
            return 1;
        }
        if (!end) break;
        start = end + 1;
    }
    return 0;
}

/* Check one value token by kind; numbers go to *value (same rules and words as flags.py). */
static void convert(const char *flag, const Flag *f, const char *token, double *value)
{
    char msg[512];
    *value = 0;
    if (f->kind == K_TEXT) return;
    if (f->kind == K_CHOICE) {
        if (!choice_ok(token, f->metavar)) {
            snprintf(msg, sizeof msg, "expected one of %s, got '%.200s'", f->metavar, token);
            usage_error(flag, msg);
        }
        return;
    }
    if (f->kind == K_INTEGER || f->kind == K_COUNT) {
        if (!is_integer(token)) {
            snprintf(msg, sizeof msg, "'%.200s' is not an integer", token);
            usage_error(flag, msg);
        }
        *value = strtod(token, NULL);
        if (fabs(*value) > INT_LIMIT) {
            snprintf(msg, sizeof msg, "'%.200s' is out of range", token);
            usage_error(flag, msg);
        }
        if (f->kind == K_COUNT && *value < 1) {
            snprintf(msg, sizeof msg, "must be at least 1, got %.200s", token);
            usage_error(flag, msg);
        }
        return;
    }
    if (!is_number(token)) {
        snprintf(msg, sizeof msg, "'%.200s' is not a number", token);
        usage_error(flag, msg);
    }
    *value = strtod(token, NULL);
    if (isinf(*value)) {
        snprintf(msg, sizeof msg, "'%.200s' is out of range", token);
        usage_error(flag, msg);
    }
    if (f->kind == K_POSITIVE && !(*value > 0)) {
        snprintf(msg, sizeof msg, "must be positive, got %.200s", token);
        usage_error(flag, msg);
    }
}

static void set_defaults(Args *a)
{
    memset(a, 0, sizeof *a);
    a->Na = a->Nb = a->Nc = 1;
    a->shape = SQUARE;
    a->fudge = 1.0;
    a->lambda_A = 1.0;
    a->fluence = DEFAULT_FLUENCE;
    a->exposure = 1.0;
    a->beamsize_mm = 0.1;
    a->dispstep = -1.0;
    a->dispsteps = -1;
    a->hdivrange = a->vdivrange = a->hdivstep = a->vdivstep = -1.0;
    a->hdivsteps = a->vdivsteps = -1;
    a->round_div = 1;
    a->distance_mm = 100.0;
    a->pixel_mm = 0.1;
    a->detsize_f_mm = a->detsize_s_mm = 102.4;
    a->oversample = -1;
    a->osc_deg = a->phistep_deg = -1.0;
    a->phisteps = -1;
    a->mosaic_deg = -1.0;
    a->mosaic_domains = -1;
    a->mosaic_seed = -12345678;
    a->thicksteps = -1;
    a->interpolate = -1;
    a->adc = 40.0;
}

static int is(const char *arg, const char *name) { return strcmp(arg, name) == 0; }

/* What each canonical flag sets; v holds the numeric values, text the first value token. */
static void apply(Args *a, const char *f, const double *v, const char *text)
{
    if (is(f, "-cell")) { for (int k = 0; k < 6; k++) a->cell[k] = v[k]; a->have_cell = 1; }
    else if (is(f, "-misset")) { for (int k = 0; k < 3; k++) a->misset[k] = v[k]; a->have_misset = 1; }
    else if (is(f, "-N")) a->Na = a->Nb = a->Nc = (int)v[0];
    else if (is(f, "-Na")) a->Na = (int)v[0];
    else if (is(f, "-Nb")) a->Nb = (int)v[0];
    else if (is(f, "-Nc")) a->Nc = (int)v[0];
    else if (is(f, "-default_F")) a->default_F = v[0];
    else if (is(f, "-hkl")) a->hklfile = text;
    else if (is(f, "-interpolate")) a->interpolate = 1;
    else if (is(f, "-nointerpolate")) a->interpolate = 0;
    else if (is(f, "-square_xtal")) a->shape = SQUARE;
    else if (is(f, "-round_xtal")) a->shape = ROUND;
    else if (is(f, "-gauss_xtal")) a->shape = GAUSS;
    else if (is(f, "-tophat_spots")) a->shape = TOPHAT;
    else if (is(f, "-fudge")) a->fudge = v[0];
    else if (is(f, "-lambda")) a->lambda_A = v[0];
    else if (is(f, "-energy")) a->lambda_A = 12398.42 / v[0];
    else if (is(f, "-fluence")) a->fluence = v[0];
    else if (is(f, "-flux")) a->flux = v[0];
    else if (is(f, "-exposure")) a->exposure = v[0];
    else if (is(f, "-beamsize")) a->beamsize_mm = v[0];
    else if (is(f, "-polar")) a->polar_K = v[0];
    else if (is(f, "-nopolar")) a->nopolar = 1;
    else if (is(f, "-dispersion")) a->dispersion_pct = v[0];
    else if (is(f, "-dispsteps")) a->dispsteps = (int)v[0];
    else if (is(f, "-divergence")) a->hdivrange = a->vdivrange = v[0];
    else if (is(f, "-hdivrange")) a->hdivrange = v[0];
    else if (is(f, "-vdivrange")) a->vdivrange = v[0];
    else if (is(f, "-hdivstep")) a->hdivstep = v[0];
    else if (is(f, "-vdivstep")) a->vdivstep = v[0];
    else if (is(f, "-divsteps")) a->hdivsteps = a->vdivsteps = (int)v[0];
    else if (is(f, "-hdivsteps")) a->hdivsteps = (int)v[0];
    else if (is(f, "-vdivsteps")) a->vdivsteps = (int)v[0];
    else if (is(f, "-square_div")) a->round_div = 0;
    else if (is(f, "-round_div")) a->round_div = 1;
    else if (is(f, "-distance")) a->distance_mm = v[0];
    else if (is(f, "-pixel")) a->pixel_mm = v[0];
    else if (is(f, "-detpixels")) a->detpixels_f = a->detpixels_s = (int)v[0];
    else if (is(f, "-detpixels_f")) a->detpixels_f = (int)v[0];
    else if (is(f, "-detpixels_s")) a->detpixels_s = (int)v[0];
    else if (is(f, "-detsize")) a->detsize_f_mm = a->detsize_s_mm = v[0];
    else if (is(f, "-detsize_f")) a->detsize_f_mm = v[0];
    else if (is(f, "-detsize_s")) a->detsize_s_mm = v[0];
    else if (is(f, "-Xbeam")) { a->xbeam_mm = v[0]; a->have_xbeam = 1; }
    else if (is(f, "-Ybeam")) { a->ybeam_mm = v[0]; a->have_ybeam = 1; }
    else if (is(f, "-mosflm")) { /* the only convention */ }
    else if (is(f, "-roi")) { for (int k = 0; k < 4; k++) a->roi[k] = (int)v[k]; a->have_roi = 1; }
    else if (is(f, "-oversample")) a->oversample = (int)v[0];
    else if (is(f, "-oversample_omega")) a->oversample_omega = 1;
    else if (is(f, "-oversample_polar")) a->oversample_polar = 1;
    else if (is(f, "-oversample_thick")) a->oversample_thick = 1;
    else if (is(f, "-point_pixel")) a->point_pixel = 1;
    else if (is(f, "-detector_thick")) a->thick_um = v[0];
    else if (is(f, "-detector_abs")) { a->abs_um = v[0]; a->have_abs = 1; }
    else if (is(f, "-thicksteps")) a->thicksteps = (int)v[0];
    else if (is(f, "-phi")) a->phi0_deg = v[0];
    else if (is(f, "-osc")) a->osc_deg = v[0];
    else if (is(f, "-phistep")) a->phistep_deg = v[0];
    else if (is(f, "-phisteps")) a->phisteps = (int)v[0];
    else if (is(f, "-mosaic")) a->mosaic_deg = v[0];
    else if (is(f, "-mosaic_domains")) a->mosaic_domains = (int)v[0];
    else if (is(f, "-mosaic_seed")) a->mosaic_seed = -(long)v[0];
    else if (is(f, "-floatfile")) a->floatfile = text;
    else if (is(f, "-intfile")) a->intfile = text;
    else if (is(f, "-scale")) { a->scale = v[0]; a->have_scale = 1; }
    else if (is(f, "-adc")) a->adc = v[0];
    else if (is(f, "-trace_pixel")) { a->trace_s = (int)v[0]; a->trace_f = (int)v[1]; a->have_trace = 1; }
    else if (is(f, "-noisefile") || is(f, "-pgmfile") || is(f, "-seed") || is(f, "-nonoise") ||
             is(f, "-nopgm") || is(f, "-noprogress") || is(f, "-progress") || is(f, "-device") ||
             is(f, "-dtype")) {
        /* accepted like simkernel; nothing here depends on them */
    } else {
        fprintf(stderr, "%s: internal error: flag %s has no handler\n", program, f);
        exit(1);
    }
}

/* The checks after parsing, in simkernel's order and wording. */
static void check_args(const Args *a)
{
    if (!a->have_cell)
        usage_error("-cell", "no unit cell given: add -cell a b c alpha beta gamma (Angstrom, degrees)");
    for (int k = 0; k < 3; k++)
        if (!(a->cell[k] > 0)) usage_error("-cell", "cell lengths must be positive (Angstrom)");
    for (int k = 3; k < 6; k++)
        if (!(a->cell[k] > 0 && a->cell[k] < 180))
            usage_error("-cell", "cell angles must lie between 0 and 180 degrees");
    if (a->hklfile == NULL && a->default_F == 0.0)
        usage_error("-hkl", "no structure factors: give -hkl FILE or a non-zero -default_F");
    double pixel = a->pixel_mm * 1e-3;
    double detsize_f = a->detpixels_f > 0 ? a->detpixels_f * pixel : a->detsize_f_mm * 1e-3;
    double detsize_s = a->detpixels_s > 0 ? a->detpixels_s * pixel : a->detsize_s_mm * 1e-3;
    if ((int)ceil(detsize_f / pixel - 0.5) < 1 || (int)ceil(detsize_s / pixel - 0.5) < 1)
        usage_error("-detsize", "the detector has no pixels: give -detpixels N or a larger -detsize");
    if (a->flux != 0 && a->exposure > 0 && a->beamsize_mm == 0)
        usage_error("-beamsize", "must be positive with -flux");
    if (a->have_abs && a->abs_um < 0)
        usage_error("-detector_abs", "must be positive, or 0 for no absorption");
    int fpixels = (int)ceil(detsize_f / pixel - 0.5), spixels = (int)ceil(detsize_s / pixel - 0.5);
    if (a->have_trace && (a->trace_s < 0 || a->trace_s >= spixels || a->trace_f < 0 || a->trace_f >= fpixels)) {
        char msg[160];
        snprintf(msg, sizeof msg, "pixel %d %d is outside the %dx%d (slow x fast) detector",
                 a->trace_s, a->trace_f, spixels, fpixels);
        usage_error("-trace_pixel", msg);
    }
}

static void parse_args(int argc, char **argv, Args *a)
{
    set_defaults(a);
    char msg[512];
    for (int i = 1; i < argc; i++) {
        const char *name = argv[i];
        const Flag *row = find_row(name);
        if (row != NULL && row->unsupported)
            usage_error(name, "this nanoBragg option is not supported (" HELP_HINT ")");
        const Flag *f = lookup(name);
        if (f == NULL) {
            if (name[0] == '-') usage_error(name, "unknown flag (" HELP_HINT ")");
            usage_error(name, "unexpected argument: values follow their flag (" HELP_HINT ")");
        }
        int given = 0;
        while (given < f->count && i + 1 + given < argc && find_row(argv[i + 1 + given]) == NULL) given++;
        if (given < f->count) {
            snprintf(msg, sizeof msg, "needs %d value%s (%s), got %d", f->count, f->count > 1 ? "s" : "",
                     f->metavar, given);
            usage_error(name, msg);
        }
        double v[6] = {0};
        for (int k = 0; k < f->count; k++) convert(name, f, argv[i + 1 + k], &v[k]);
        apply(a, f->name, v, f->count > 0 ? argv[i + 1] : NULL);
        i += f->count;
    }
    check_args(a);
}

/* ------------------------------------------------------------------ */
/* Derived simulation state (SI units)                                 */
/* ------------------------------------------------------------------ */
typedef struct {
    /* crystal */
    vec3 a0, b0, c0;                 /* real-space axes, m */
    vec3 astar, bstar, cstar;        /* reciprocal axes, 1/A (shape factors only) */
    double cell_out[6], rcell_out[6], volume_A3;
    double Na, Nb, Nc;
    enum shape shape;
    double fudge;
    /* structure factors */
    double default_F;
    double *hkl;                     /* dense grid, NULL without -hkl */
    int hmin, hmax, kmin, kmax, lmin, lmax, nhkl;
    /* beam */
    double lambda0, fluence;
    int nsources;
    vec3 *src_pos;                   /* printed source positions, m */
    vec3 *incident;                  /* unit incident direction per source */
    double *src_lambda;              /* m */
    int nlambda, ndirections;
    double dispersion, dispstep;
    double hdivrange, vdivrange, hdivstep, vdivstep;
    /* crystal orientations: phi-major, mosaic-minor */
    int phisteps, domains;
    double phi0, phistep, osc, mosaic_spread;
    vec3 *orient;                    /* 3 vectors (a, b, c) per orientation, m */
    /* detector */
    double pixel, distance, close_distance;
    int fpixels, spixels;
    double detsize_f, detsize_s;
    double xbeam, ybeam, fbeam, sbeam;
    vec3 fdet, sdet, odet, beam, polar_axis, spindle, pix0;
    int roi_xmin, roi_xmax, roi_ymin, roi_ymax;
    int oversample, auto_oversample;
    int oversample_omega, oversample_polar, oversample_thick, point_pixel;
    double thick, thickstep, mu;
    int thicksteps;
    double polar_K;
    int nopolar;
    double steps;
} Sim;

/* ---- Crystal ------------------------------------------------------ */
static void build_crystal(const Args *a, Sim *s)
{
    const double d2r = M_PI / 180.0;
    double A = a->cell[0], B = a->cell[1], C = a->cell[2];
    double al = a->cell[3] * d2r, be = a->cell[4] * d2r, ga = a->cell[5] * d2r;
    double skew = (al + be + ga) / 2.0;
    double V = 2.0 * A * B * C *
               sqrt(fabs(sin(skew) * sin(skew - al) * sin(skew - be) * sin(skew - ga)));
    double as_len = B * C * sin(al) / V, bs_len = C * A * sin(be) / V, cs_len = A * B * sin(ga) / V;
    double cos_als = (cos(be) * cos(ga) - cos(al)) / (sin(be) * sin(ga));
    double cos_bes = (cos(ga) * cos(al) - cos(be)) / (sin(ga) * sin(al));
    double cos_gas = (cos(al) * cos(be) - cos(ga)) / (sin(al) * sin(be));
    double sin_gas = C / (V * as_len * bs_len);
    vec3 as = v_make(as_len, 0, 0);
    vec3 bs = v_make(bs_len * cos_gas, bs_len * sin_gas, 0);
    vec3 cs = v_make(cs_len * cos_bes, cs_len * (cos_als - cos_bes * cos_gas) / sin_gas,
                     cs_len * V / (A * B * C * sin_gas));
    if (a->have_misset) {
        double rx = a->misset[0] * d2r, ry = a->misset[1] * d2r, rz = a->misset[2] * d2r;
        as = rotate_xyz(as, rx, ry, rz);
        bs = rotate_xyz(bs, rx, ry, rz);
        cs = rotate_xyz(cs, rx, ry, rz);
    }
    /* impose the user's lengths on the real-space axes, then regenerate a*, b*, c* */
    vec3 ra = v_scale(v_unit(v_cross(bs, cs)), A);
    vec3 rb = v_scale(v_unit(v_cross(cs, as)), B);
    vec3 rc = v_scale(v_unit(v_cross(as, bs)), C);
    s->astar = v_scale(v_cross(rb, rc), 1.0 / V);
    s->bstar = v_scale(v_cross(rc, ra), 1.0 / V);
    s->cstar = v_scale(v_cross(ra, rb), 1.0 / V);
    s->volume_A3 = V;
    s->a0 = v_scale(ra, 1e-10);
    s->b0 = v_scale(rb, 1e-10);
    s->c0 = v_scale(rc, 1e-10);

    double r2d = 180.0 / M_PI;
    s->cell_out[0] = v_len(ra); s->cell_out[1] = v_len(rb); s->cell_out[2] = v_len(rc);
    s->cell_out[3] = acos(v_dot(rb, rc) / (v_len(rb) * v_len(rc))) * r2d;
    s->cell_out[4] = acos(v_dot(rc, ra) / (v_len(rc) * v_len(ra))) * r2d;
    s->cell_out[5] = acos(v_dot(ra, rb) / (v_len(ra) * v_len(rb))) * r2d;
    vec3 sa = s->astar, sb = s->bstar, sc = s->cstar;
    s->rcell_out[0] = v_len(sa); s->rcell_out[1] = v_len(sb); s->rcell_out[2] = v_len(sc);
    s->rcell_out[3] = acos(v_dot(sb, sc) / (v_len(sb) * v_len(sc))) * r2d;
    s->rcell_out[4] = acos(v_dot(sc, sa) / (v_len(sc) * v_len(sa))) * r2d;
    s->rcell_out[5] = acos(v_dot(sa, sb) / (v_len(sa) * v_len(sb))) * r2d;

    s->Na = a->Na > 1 ? a->Na : 1;
    s->Nb = a->Nb > 1 ? a->Nb : 1;
    s->Nc = a->Nc > 1 ? a->Nc : 1;
    s->shape = a->shape;
    s->fudge = a->fudge;
}

/* ---- Structure factors ------------------------------------------- */
static double nearest_index(double x) { return ceil(x - 0.5); }

static void load_hkl(const char *path, double default_F, Sim *s)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        char msg[1200];
        snprintf(msg, sizeof msg, "cannot read '%.1000s': %s", path, strerror(errno));
        usage_error("-hkl", msg);
    }
    double h, k, l, F;
    int n = 0;
    s->hmin = s->kmin = s->lmin = 1 << 30;
    s->hmax = s->kmax = s->lmax = -(1 << 30);
    while (fscanf(fp, "%lg %lg %lg %lg", &h, &k, &l, &F) == 4) {
        int h0 = (int)nearest_index(h), k0 = (int)nearest_index(k), l0 = (int)nearest_index(l);
        if (h0 < s->hmin) s->hmin = h0;
        if (h0 > s->hmax) s->hmax = h0;
        if (k0 < s->kmin) s->kmin = k0;
        if (k0 > s->kmax) s->kmax = k0;
        if (l0 < s->lmin) s->lmin = l0;
        if (l0 > s->lmax) s->lmax = l0;
        n++;
    }
    if (n == 0) {
        fclose(fp);
        char msg[1200];
        snprintf(msg, sizeof msg, "no 'h k l F' entries in '%.1000s'", path);
        usage_error("-hkl", msg);
    }
    long hr = s->hmax - s->hmin + 1, kr = s->kmax - s->kmin + 1, lr = s->lmax - s->lmin + 1;
    if (hr * kr * lr > 400000000L) {
        fclose(fp);
        usage_error("-hkl", "Miller index range too large for a dense grid");
    }
    s->hkl = malloc(sizeof(double) * hr * kr * lr);
    if (s->hkl == NULL) { fclose(fp); usage_error("-hkl", "out of memory for the HKL grid"); }
    for (long i = 0; i < hr * kr * lr; i++) s->hkl[i] = default_F;
    rewind(fp);
    for (int i = 0; i < n; i++) {
        if (fscanf(fp, "%lg %lg %lg %lg", &h, &k, &l, &F) != 4) break;
        int h0 = (int)nearest_index(h), k0 = (int)nearest_index(k), l0 = (int)nearest_index(l);
        s->hkl[((long)(h0 - s->hmin) * kr + (k0 - s->kmin)) * lr + (l0 - s->lmin)] = F;
    }
    fclose(fp);
    s->nhkl = n;
}

/* ---- Step/range auto-selection (divergence, dispersion) ------------ */
static void pick_range(double *range, double *step, int *n)
{
    if (*n <= 0) {
        if (*range < 0 && *step <= 0) { *n = 1; *range = 0; }
        else if (*range < 0) { *range = *step; *n = 2; }
        else if (*step <= 0) { *step = *range; *n = 2; }
        else { *n = (int)ceil(*range / *step); }
    } else {
        if (*range < 0 && *step <= 0) { *range = 1.0; *step = *range / *n; }
        else if (*range < 0) { *range = *step; *n = 2; }
        else if (*step <= 0) { if (*n < 2) *n = 2; *step = *range / (*n - 1); }
    }
    if (*range <= 0 || *step <= 0 || *n <= 0) { *n = 1; *range = 0; *step = 0; }
}

static void build_sources(const Args *a, Sim *s)
{
    double hr = a->hdivrange < 0 ? -1 : a->hdivrange * 1e-3;
    double vr = a->vdivrange < 0 ? -1 : a->vdivrange * 1e-3;
    double hs = a->hdivstep <= 0 ? -1 : a->hdivstep * 1e-3;
    double vs = a->vdivstep <= 0 ? -1 : a->vdivstep * 1e-3;
    int hn = a->hdivsteps, vn = a->vdivsteps;
    pick_range(&hr, &hs, &hn);
    pick_range(&vr, &vs, &vn);
    double dr = a->dispersion_pct / 100.0, ds = a->dispstep;
    int dn = a->dispsteps;
    pick_range(&dr, &ds, &dn);
    s->hdivrange = hr; s->hdivstep = hs; s->vdivrange = vr; s->vdivstep = vs;
    s->dispersion = dr; s->dispstep = ds; s->nlambda = dn;

    int cap = hn * vn * dn;
    s->src_pos = malloc(sizeof(vec3) * cap);
    s->incident = malloc(sizeof(vec3) * cap);
    s->src_lambda = malloc(sizeof(double) * cap);
    vec3 vaxis = v_unit(v_cross(s->beam, s->polar_axis));
    int n = 0, ndir = 0;
    for (int hi = 0; hi < hn; hi++) {
        for (int vi = 0; vi < vn; vi++) {
            double hdiv = hs * hi - hr / 2.0, vdiv = vs * vi - vr / 2.0;
            /* elliptical trim; a zero range gives 0/0 = NaN and keeps the point, as C does */
            double test = (hdiv * hdiv - hs * hs / 4.0 * (1 - hn % 2)) / (hr * hr) +
                          (vdiv * vdiv - vs * vs / 4.0 * (1 - vn % 2)) / (vr * vr);
            if (a->round_div && 4 * test > 1.1) continue;
            printf("divergence deviation: %g %g\n", hdiv, vdiv);
            vec3 pos = v_scale(s->beam, -10.0);
            pos = rotate_axis(pos, s->polar_axis, vdiv);
            pos = rotate_axis(pos, vaxis, hdiv);
            for (int j = 0; j < dn; j++) {
                s->src_pos[n] = pos;
                s->incident[n] = v_scale(v_unit(pos), -1.0);
                s->src_lambda[n] = s->lambda0 * (1.0 + ds * j - dr / 2.0);
                n++;
            }
            ndir++;
        }
    }
    for (int j = 0; j < dn; j++)
        printf("lambda%d = %.15g\n", j, s->lambda0 * (1.0 + ds * j - dr / 2.0));
    s->nsources = n;
    s->ndirections = ndir;
    printf("  created a total of %d sources:\n", n);
    for (int i = 0; i < n; i++)
        printf("%g %g %g   %g %g\n", s->src_pos[i].x, s->src_pos[i].y, s->src_pos[i].z,
               1.0 / n, s->src_lambda[i]);
}

/* ---- Mosaic RNG: Numerical Recipes ran1, float output as in C ------ */
typedef struct { long iy; long iv[32]; } Ran1;

static float ran1(Ran1 *st, long *idum)
{
    const long IA = 16807, IM = 2147483647, IQ = 127773, IR = 2836, NTAB = 32;
    const long NDIV = 1 + (IM - 1) / NTAB;
    const double AM = 1.0 / IM, RNMX = 1.0 - 1.2e-7;
    long k;
    int j;
    if (*idum <= 0 || !st->iy) {
        *idum = (-(*idum) < 1) ? 1 : -(*idum);
        for (j = NTAB + 7; j >= 0; j--) {
            k = *idum / IQ;
            *idum = IA * (*idum - k * IQ) - IR * k;
            if (*idum < 0) *idum += IM;
            if (j < NTAB) st->iv[j] = *idum;
        }
        st->iy = st->iv[0];
    }
    k = *idum / IQ;
    *idum = IA * (*idum - k * IQ) - IR * k;
    if (*idum < 0) *idum += IM;
    j = (int)(st->iy / NDIV);
    st->iy = st->iv[j];
    st->iv[j] = *idum;
    float temp = (float)(AM * st->iy);
    return temp > RNMX ? (float)RNMX : temp;
}

/* Random rotation of at most `spread` radians; float intermediates as in nanoBragg. */
static void mosaic_umat(float spread, Ran1 *st, long *seed, double u[9])
{
    double r1 = 2.0 * ran1(st, seed) - 1.0;
    double r2 = 2.0 * ran1(st, seed) - 1.0;
    double r3 = 2.0 * ran1(st, seed) - 1.0;
    double xyrad = sqrt(1.0 - r2 * r2);
    double rot = spread * powf((float)(1.0 - r3 * r3), (float)(1.0 / 3.0));
    double v1 = xyrad * sin(M_PI * r1), v2 = xyrad * cos(M_PI * r1), v3 = r2;
    double c = cos(rot), omc = 1.0 - c, sn = sin(rot);
    u[0] = c + omc * v1 * v1;       u[1] = omc * v1 * v2 - sn * v3; u[2] = omc * v1 * v3 + sn * v2;
    u[3] = omc * v1 * v2 + sn * v3; u[4] = c + omc * v2 * v2;       u[5] = omc * v2 * v3 - sn * v1;
    u[6] = omc * v1 * v3 - sn * v2; u[7] = omc * v2 * v3 + sn * v1; u[8] = c + omc * v3 * v3;
}

/* ---- phi steps x mosaic domains: every crystal orientation, once ---- */
static void build_orientations(const Args *a, Sim *s)
{
    const double d2r = M_PI / 180.0;
    double osc = a->osc_deg < 0 ? -1 : a->osc_deg * d2r;
    double step = a->phistep_deg < 0 ? -1 : a->phistep_deg * d2r;
    int n = a->phisteps;
    if (n <= 0) {
        if (osc < 0) {
            if (step <= 0) { n = 1; osc = 0; step = 0; }
            else { osc = step; n = 2; }
        } else {
            if (step <= 0) { n = 2; step = osc / 2.0; }
            else { n = (int)ceil(osc / step); }
        }
    } else if (osc < 0) {
        if (step <= 0) { osc = 1.0 * d2r; step = osc / n; }
        else { osc = step; n = 2; }
    } else if (step <= 0) {
        step = osc / n;
    }
    if (n < 1) n = 1;
    s->phisteps = n; s->phistep = step; s->osc = osc; s->phi0 = a->phi0_deg * d2r;

    double spread = a->mosaic_deg < 0 ? -1 : a->mosaic_deg * d2r;
    int domains = a->mosaic_domains;
    if (domains < 0) {
        if (spread < 0) { domains = 1; spread = 0; }
        else if (spread == 0) domains = 1;
        else domains = 10;
    } else if (spread <= 0) {
        domains = 1; spread = 0;
    }
    if (domains < 1) domains = 1;
    s->domains = domains; s->mosaic_spread = spread;

    double *umats = malloc(sizeof(double) * 9 * domains);
    Ran1 rng = {0, {0}};
    long seed = a->mosaic_seed;
    for (int m = 0; m < domains; m++) {
        mosaic_umat((float)spread, &rng, &seed, umats + 9 * m);
        if (m == 0) {   /* domain 0 is the unrotated crystal; its random numbers are still used */
            for (int k = 0; k < 9; k++) umats[k] = (k % 4 == 0) ? 1.0 : 0.0;
        }
    }

    s->orient = malloc(sizeof(vec3) * 3 * n * domains);
    for (int p = 0; p < n; p++) {
        double phi = s->phi0 + p * step;
        printf("phi%d = %g\n", p, phi / d2r);
        /* rotate at every step, phi = 0 included (nanoBragg's carry-over bug not copied) */
        vec3 ap = rotate_axis(s->a0, s->spindle, phi);
        vec3 bp = rotate_axis(s->b0, s->spindle, phi);
        vec3 cp = rotate_axis(s->c0, s->spindle, phi);
        for (int m = 0; m < domains; m++) {
            vec3 *o = s->orient + 3 * (p * domains + m);
            if (spread > 0) {
                o[0] = mat_apply(umats + 9 * m, ap);
                o[1] = mat_apply(umats + 9 * m, bp);
                o[2] = mat_apply(umats + 9 * m, cp);
            } else {
                o[0] = ap; o[1] = bp; o[2] = cp;
            }
        }
    }
    free(umats);
}

/* ---- Detector ------------------------------------------------------ */
static void build_detector(const Args *a, Sim *s)
{
    s->beam = v_make(1, 0, 0);
    s->fdet = v_make(0, 0, 1);
    s->sdet = v_make(0, -1, 0);
    s->odet = v_make(1, 0, 0);
    s->polar_axis = v_make(0, 0, 1);
    s->spindle = v_make(0, 0, 1);
    s->pixel = a->pixel_mm * 1e-3;
    s->detsize_f = a->detsize_f_mm * 1e-3;
    s->detsize_s = a->detsize_s_mm * 1e-3;
    if (a->detpixels_f > 0) s->detsize_f = a->detpixels_f * s->pixel;
    if (a->detpixels_s > 0) s->detsize_s = a->detpixels_s * s->pixel;
    s->fpixels = (int)ceil(s->detsize_f / s->pixel - 0.5);
    s->spixels = (int)ceil(s->detsize_s / s->pixel - 0.5);
    if (s->fpixels <= 0 || s->spixels <= 0) usage_error("-detsize", "detector has no pixels");
    s->xbeam = a->have_xbeam ? a->xbeam_mm * 1e-3 : (s->detsize_s + s->pixel) / 2.0;
    s->ybeam = a->have_ybeam ? a->ybeam_mm * 1e-3 : (s->detsize_f + s->pixel) / 2.0;
    /* MOSFLM adds half a pixel, explicit beam centre or not */
    s->fbeam = s->ybeam + 0.5 * s->pixel;
    s->sbeam = s->xbeam + 0.5 * s->pixel;
    s->distance = a->distance_mm * 1e-3;
    s->pix0 = v_add(v_add(v_scale(s->fdet, -s->fbeam), v_scale(s->sdet, -s->sbeam)),
                    v_scale(s->beam, s->distance));
    s->close_distance = v_dot(s->pix0, s->odet);
    s->distance = s->close_distance / v_dot(s->beam, s->odet);

    if (a->have_roi) {
        s->roi_xmin = a->roi[0]; s->roi_xmax = a->roi[1];
        s->roi_ymin = a->roi[2]; s->roi_ymax = a->roi[3];
    } else {
        s->roi_xmin = 0; s->roi_xmax = s->fpixels;
        s->roi_ymin = 0; s->roi_ymax = s->spixels;
    }
    s->oversample_omega = a->oversample_omega;
    s->oversample_polar = a->oversample_polar;
    s->oversample_thick = a->oversample_thick;
    s->point_pixel = a->point_pixel;

    s->thick = a->thick_um * 1e-6;
    s->thicksteps = 1;
    s->thickstep = 0;
    s->mu = 0;
    if (s->thick > 0) {
        if (a->thicksteps <= 0) { s->thicksteps = 2; s->thickstep = s->thick / 2.0; }
        else if (a->thicksteps == 1) { s->thicksteps = 1; s->thickstep = s->thick; }
        else { s->thicksteps = a->thicksteps; s->thickstep = s->thick / (a->thicksteps - 1); }
        if (a->have_abs) s->mu = (a->abs_um > 0 && isfinite(a->abs_um)) ? 1.0 / (a->abs_um * 1e-6) : 0;
        else s->mu = 1.0 / s->thick;
    }
}

/* ---- The kernel ----------------------------------------------------- */
static double sincg(double x, double N) { return x == 0.0 ? N : sin(x * N) / sin(x); }

static double sinc3(double x) { return x == 0.0 ? 1.0 : 3.0 * (sin(x) / x - cos(x)) / (x * x); }

static double polarization(double K, vec3 inc, vec3 dif, vec3 axis)
{
    double cos2t = v_dot(inc, dif);
    double cos2t_sq = cos2t * cos2t, sin2t_sq = 1.0 - cos2t_sq;
    double psi = 0.0;
    if (K != 0.0) {
        vec3 B_in = v_unit(v_cross(axis, inc));
        vec3 E_in = v_unit(v_cross(inc, B_in));
        psi = -atan2(v_dot(dif, B_in), v_dot(dif, E_in));
    }
    return 0.5 * (1.0 + cos2t_sq - K * cos(2.0 * psi) * sin2t_sq);
}

static double lattice_factor(const Sim *s, double h, double k, double l)
{
    if (s->shape == SQUARE) {
        double F = 1.0;
        if (s->Na > 1) F *= sincg(M_PI * h, s->Na);
        if (s->Nb > 1) F *= sincg(M_PI * k, s->Nb);
        if (s->Nc > 1) F *= sincg(M_PI * l, s->Nc);
        return F;
    }
    double dh = h - nearest_index(h), dk = k - nearest_index(k), dl = l - nearest_index(l);
    double NNN = s->Na * s->Nb * s->Nc;
    if (s->shape == ROUND) {
        double hrad_sq = dh * dh * s->Na * s->Na + dk * dk * s->Nb * s->Nb + dl * dl * s->Nc * s->Nc;
        return NNN * 0.723601254558268 * sinc3(M_PI * sqrt(hrad_sq * s->fudge));
    }
    /* gauss and tophat: offset in unrotated reciprocal space (1/A), odd units kept as C */
    vec3 dq = v_add(v_add(v_scale(s->astar, dh), v_scale(s->bstar, dk)), v_scale(s->cstar, dl));
    double rad_sq = v_dot(dq, dq) * s->Na * s->Na * s->Nb * s->Nb * s->Nc * s->Nc;
    if (s->shape == GAUSS) return NNN * exp(-(rad_sq / 0.63 * s->fudge));
    return (rad_sq * s->fudge < 0.3969) ? NNN : 0.0;
}

static double structure_factor(const Sim *s, double h, double k, double l)
{
    if (s->hkl == NULL) return s->default_F;
    double h0 = nearest_index(h), k0 = nearest_index(k), l0 = nearest_index(l);
    if (h0 < s->hmin || h0 > s->hmax || k0 < s->kmin || k0 > s->kmax || l0 < s->lmin || l0 > s->lmax)
        return s->default_F;
    long kr = s->kmax - s->kmin + 1, lr = s->lmax - s->lmin + 1;
    return s->hkl[((long)(h0 - s->hmin) * kr + (long)(k0 - s->kmin)) * lr + (long)(l0 - s->lmin)];
}

/*
 * One pixel: photons for this pixel (nanoBragg accumulation order).
 * omega/polar/capture come from the first subpixel unless -oversample_* asks
 * for the running-sum multiply.
 */
static double render_pixel(const Sim *s, int fpix, int spix)
{
    const int n = s->oversample;
    const double sub = s->pixel / n;
    const int norient = s->phisteps * s->domains;
    double I = 0.0;
    double polar = s->nopolar ? 1.0 : 0.0;
    double omega = 0.0;
    double capture = 1.0;
    for (int t = 0; t < s->thicksteps; t++) {
        capture = (s->thick > 0 && s->mu > 0) ? 0.0 : 1.0;
        for (int ss = 0; ss < n; ss++) {
            for (int sf = 0; sf < n; sf++) {
                double Fdet = sub * (fpix * n + sf) + sub / 2.0;
                double Sdet = sub * (spix * n + ss) + sub / 2.0;
                vec3 P = v_add(v_add(v_add(v_scale(s->fdet, Fdet), v_scale(s->sdet, Sdet)),
                                     v_scale(s->odet, t * s->thickstep)), s->pix0);
                double R = v_len(P);
                vec3 d = v_scale(P, 1.0 / R);
                if (omega == 0.0 || s->oversample_omega) {
                    omega = s->point_pixel ? 1.0 / R / R
                                           : s->pixel * s->pixel / R / R * s->close_distance / R;
                }
                if (capture == 0.0 || (s->oversample_thick && s->mu > 0)) {
                    double rho = v_dot(d, s->odet);
                    capture = exp(-t * s->thickstep * s->mu / rho) -
                              exp(-(t + 1) * s->thickstep * s->mu / rho);
                }
                for (int src = 0; src < s->nsources; src++) {
                    vec3 inc = s->incident[src];
                    vec3 S = v_scale(v_sub(d, inc), 1.0 / s->src_lambda[src]);
                    if (!s->nopolar && (polar == 0.0 || s->oversample_polar))
                        polar = polarization(s->polar_K, inc, d, s->polar_axis);
                    for (int o = 0; o < norient; o++) {
                        const vec3 *abc = s->orient + 3 * o;
                        double h = v_dot(abc[0], S), k = v_dot(abc[1], S), l = v_dot(abc[2], S);
                        double F_latt = lattice_factor(s, h, k, l);
                        if (F_latt == 0.0) continue;
                        double F_cell = structure_factor(s, h, k, l);
                        I += F_cell * F_cell * F_latt * F_latt;
                        if (s->oversample_thick) I *= capture;
                        if (s->oversample_polar) I *= polar;
                        if (s->oversample_omega) I *= omega;
                    }
                }
            }
        }
    }
    double pixel = R_E_SQR * s->fluence * I / s->steps;
    if (!s->oversample_thick) pixel *= capture;
    if (!s->oversample_polar) pixel *= polar;
    if (!s->oversample_omega) pixel *= omega;
    return pixel;
}

static int in_roi(const Sim *s, int fpix, int spix)
{
    return fpix >= s->roi_xmin && fpix <= s->roi_xmax && spix >= s->roi_ymin && spix <= s->roi_ymax;
}

static void render_image(const Sim *s, float *image)
{
    #pragma omp parallel for schedule(dynamic, 4)
    for (int spix = 0; spix < s->spixels; spix++) {
        for (int fpix = 0; fpix < s->fpixels; fpix++) {
            double value = 0.0;
            if (in_roi(s, fpix, spix)) value = render_pixel(s, fpix, spix);
            image[(long)spix * s->fpixels + fpix] = (float)value;
        }
    }
}

/*
 * -trace_pixel: the intermediate values of one pixel, in the order render_pixel computes
 * them, for its first sensor layer, subpixel, source and crystal orientation (phi step 0,
 * mosaic domain 0), then the whole pixel's value. Names and units are those of simkernel's
 * trace (simkernel/trace.py), so the two traces line up by name.
 */
static void trace_line(const char *name, int count, const double *v)
{
    printf("TRACE_C: %s", name);
    for (int i = 0; i < count; i++) printf(" %.17g", v[i]);
    printf("\n");
}

static void trace_vec(const char *name, vec3 v)
{
    double values[3] = {v.x, v.y, v.z};
    trace_line(name, 3, values);
}

static void trace_value(const char *name, double v) { trace_line(name, 1, &v); }

static void trace_pixel(const Sim *s, int spix, int fpix)
{
    const int n = s->oversample;
    const double sub = s->pixel / n;
    double Fdet = sub * (fpix * n) + sub / 2.0, Sdet = sub * (spix * n) + sub / 2.0;
    double subpixel[2] = {Sdet, Fdet};
    trace_line("subpixel_slow_fast_m", 2, subpixel);
    vec3 P = v_add(v_add(v_add(v_scale(s->fdet, Fdet), v_scale(s->sdet, Sdet)), v_scale(s->odet, 0.0)),
                   s->pix0);
    trace_vec("pixel_pos_m", P);
    double R = v_len(P);
    trace_value("airpath_m", R);
    vec3 d = v_scale(P, 1.0 / R);
    trace_vec("diffracted_dir", d);
    trace_value("omega_sr", s->point_pixel ? 1.0 / R / R : s->pixel * s->pixel / R / R * s->close_distance / R);
    double capture = 1.0;
    if (s->thick > 0 && s->mu > 0) {
        double rho = v_dot(d, s->odet);
        capture = exp(-0 * s->thickstep * s->mu / rho) - exp(-1 * s->thickstep * s->mu / rho);
    }
    trace_value("capture_fraction", capture);
    vec3 inc = s->incident[0];
    trace_vec("incident_dir", inc);
    trace_value("lambda_m", s->src_lambda[0]);
    vec3 S = v_scale(v_sub(d, inc), 1.0 / s->src_lambda[0]);
    trace_vec("scattering_vector_per_m", S);
    trace_value("polarization", s->nopolar ? 1.0 : polarization(s->polar_K, inc, d, s->polar_axis));
    const vec3 *abc = s->orient;
    trace_vec("rot_a_m", abc[0]);
    trace_vec("rot_b_m", abc[1]);
    trace_vec("rot_c_m", abc[2]);
    double hkl[3] = {v_dot(abc[0], S), v_dot(abc[1], S), v_dot(abc[2], S)};
    trace_line("hkl_frac", 3, hkl);
    double nearest[3] = {nearest_index(hkl[0]), nearest_index(hkl[1]), nearest_index(hkl[2])};
    trace_line("hkl_nearest", 3, nearest);
    double F_latt = lattice_factor(s, hkl[0], hkl[1], hkl[2]);
    trace_value("F_latt", F_latt);
    double F_cell = structure_factor(s, hkl[0], hkl[1], hkl[2]);
    trace_value("F_cell", F_cell);
    trace_value("I_term", F_cell * F_cell * F_latt * F_latt);
    trace_value("steps", s->steps);
    trace_value("fluence_photons_per_m2", s->fluence);
    trace_value("pixel_value", in_roi(s, fpix, spix) ? render_pixel(s, fpix, spix) : 0.0);
}

/* ---- Output ----------------------------------------------------------- */
static int write_floatfile(const char *path, const float *image, long count)
{
    FILE *fp = fopen(path, "wb");
    if (fp == NULL) return -1;
    size_t written = fwrite(image, sizeof(float), (size_t)count, fp);
    if (fclose(fp) != 0 || written != (size_t)count) return -1;
    return 0;
}

/* SMV: 512-byte text header, little-endian unsigned 16-bit, value*scale + adc. */
static int write_smv(const char *path, const Sim *s, const float *image, double scale, double adc)
{
    char header[512];
    memset(header, ' ', sizeof header);
    int len = snprintf(header, sizeof header,
        "{\nHEADER_BYTES=512;\nDIM=2;\nBYTE_ORDER=little_endian;\nTYPE=unsigned_short;\n"
        "SIZE1=%d;\nSIZE2=%d;\nPIXEL_SIZE=%g;\nDISTANCE=%g;\nWAVELENGTH=%g;\n"
        "BEAM_CENTER_X=%g;\nBEAM_CENTER_Y=%g;\nADC_OFFSET=%g;\n}\f",
        s->fpixels, s->spixels, s->pixel * 1000, s->distance * 1000, s->lambda0 * 1e10,
        s->xbeam * 1000, s->ybeam * 1000, adc);
    if (len < (int)sizeof header) header[len] = ' ';
    FILE *fp = fopen(path, "wb");
    if (fp == NULL) return -1;
    fwrite(header, 1, sizeof header, fp);
    long count = (long)s->fpixels * s->spixels;
    for (long i = 0; i < count; i++) {
        double v = image[i] > 0 ? image[i] * scale + adc : adc;
        if (v > 65535.0) v = 65535.0;
        if (v < 0.0) v = 0.0;
        unsigned short u = (unsigned short)floor(v + 0.5);
        unsigned char bytes[2] = {(unsigned char)(u & 0xff), (unsigned char)(u >> 8)};
        fwrite(bytes, 1, 2, fp);
    }
    return fclose(fp);
}

static void print_cell(const Sim *s)
{
    printf("Unit Cell: %g %g %g %g %g %g\n", s->cell_out[0], s->cell_out[1], s->cell_out[2],
           s->cell_out[3], s->cell_out[4], s->cell_out[5]);
    printf("Recp Cell: %g %g %g %g %g %g\n", s->rcell_out[0], s->rcell_out[1], s->rcell_out[2],
           s->rcell_out[3], s->rcell_out[4], s->rcell_out[5]);
    printf("volume = %g A^3\n", s->volume_A3);
    vec3 a = v_scale(s->a0, 1e10), b = v_scale(s->b0, 1e10), c = v_scale(s->c0, 1e10);
    printf("real-space cell vectors (Angstrom):\n");
    printf("     a           b           c         \n");
    printf("X: %11.8f %11.8f %11.8f\n", a.x, b.x, c.x);
    printf("Y: %11.8f %11.8f %11.8f\n", a.y, b.y, c.y);
    printf("Z: %11.8f %11.8f %11.8f\n", a.z, b.z, c.z);
    printf("reciprocal-space cell vectors (Angstrom^-1):\n");
    printf("     a_star      b_star      c_star    \n");
    printf("X: %11.8f %11.8f %11.8f\n", s->astar.x, s->bstar.x, s->cstar.x);
    printf("Y: %11.8f %11.8f %11.8f\n", s->astar.y, s->bstar.y, s->cstar.y);
    printf("Z: %11.8f %11.8f %11.8f\n", s->astar.z, s->bstar.z, s->cstar.z);
    printf("crystal is %g x %g x %g microns\n", v_len(s->a0) * s->Na * 1e6,
           v_len(s->b0) * s->Nb * 1e6, v_len(s->c0) * s->Nc * 1e6);
}

static void print_setup(const Sim *s)
{
    static const char *shape_names[] = {"parallelpiped", "ellipsoidal", "gaussian", "tophat-spot"};
    printf("  %d initialized hkls (all others =%g)\n", s->nhkl, s->default_F);
    printf("  %s xtal: %gx%gx%g cells\n", shape_names[s->shape], s->Na, s->Nb, s->Nc);
    printf("  wave=%g meters +/- %g%% in %d steps\n", s->lambda0, s->dispersion * 100, s->nlambda);
    if (s->nopolar) printf("  polarization effect disabled\n");
    else printf("  Kahn polarization factor: %f\n", s->polar_K);
    if (s->point_pixel) printf("  pixel obliquity effect disabled\n");
    printf("  incident fluence: %g photons/m^2\n", s->fluence);
    printf("  distance=%g detsize=%gx%g  pixel=%g meters (%dx%d pixels)\n", s->distance,
           s->detsize_f, s->detsize_s, s->pixel, s->fpixels, s->spixels);
    printf("  sensor is %g m thick in %d layers with mu= %g\n", s->thick, s->thicksteps,
           s->thick > 0 ? s->mu : -1.0);
    printf("  Xbeam=%g Ybeam=%g\n", s->xbeam, s->ybeam);
    printf("  Fbeam=%g Sbeam=%g\n", s->fbeam, s->sbeam);
    /* nanoBragg prints the MOSFLM close point one pixel below Sclose/Fclose */
    printf("  Xclose=%g Yclose=%g\n", s->sbeam - s->pixel, s->fbeam - s->pixel);
    printf("  Fclose=%g Sclose=%g\n", s->fbeam, s->sbeam);
    printf("  roi: %d < x < %d && %d < y < %d\n", s->roi_xmin, s->roi_xmax, s->roi_ymin, s->roi_ymax);
    printf("  hdivrange=%g hdivstep=%g  radians\n", s->hdivrange, s->hdivstep);
    printf("  vdivrange=%g vdivstep=%g  radians\n", s->vdivrange, s->vdivstep);
    printf("  %d divergence steps\n", s->ndirections);
    printf("  %d sources\n", s->nsources);
    printf("  %d mosaic domains over mosaic spread of %g degrees\n", s->domains,
           s->mosaic_spread * 180.0 / M_PI);
    printf("  %d phi steps from %g to %g degrees\n", s->phisteps, s->phi0 * 180.0 / M_PI,
           (s->phi0 + s->osc) * 180.0 / M_PI);
    printf("  %dx%d pixel oversample steps%s%s%s\n", s->oversample, s->oversample,
           s->oversample_thick ? " +thick" : "", s->oversample_polar ? " +polar" : "",
           s->oversample_omega ? " +omega" : "");
}

/* Statistics over the ROI pixels of the float image (as nanoBragg reports them). */
typedef struct { double max_I, mean, rms, rmsd; long max_idx; } Stats;

static Stats image_statistics(const Sim *s, const float *image)
{
    Stats st = {0, 0, 0, 0, -1};
    double sum = 0, sumsq = 0;
    long count = 0;
    for (int spix = 0; spix < s->spixels; spix++)
        for (int fpix = 0; fpix < s->fpixels; fpix++) {
            if (!in_roi(s, fpix, spix)) continue;
            long idx = (long)spix * s->fpixels + fpix;
            double v = image[idx];
            if (st.max_idx < 0 || v > st.max_I) { st.max_I = v; st.max_idx = idx; }
            sum += v; sumsq += v * v; count++;
        }
    /* nanoBragg divides the squares by n - 1 */
    double dof = count > 1 ? count - 1 : 1;
    st.mean = count ? sum / count : 0;
    st.rms = sqrt(sumsq / dof);
    double dev = 0;
    for (int spix = 0; spix < s->spixels; spix++)
        for (int fpix = 0; fpix < s->fpixels; fpix++)
            if (in_roi(s, fpix, spix)) {
                double v = image[(long)spix * s->fpixels + fpix] - st.mean;
                dev += v * v;
            }
    st.rmsd = sqrt(dev / dof);
    return st;
}

static void print_statistics(const Sim *s, Stats st)
{
    /* nanoBragg reports the position of the max pixel's last subpixel */
    double sub = s->pixel / s->oversample;
    long mf = st.max_idx < 0 ? 0 : st.max_idx % s->fpixels, ms = st.max_idx < 0 ? 0 : st.max_idx / s->fpixels;
    printf("max_I = %g  at %g %g\n", st.max_I, sub * (mf * s->oversample + s->oversample - 1) + sub / 2,
           sub * (ms * s->oversample + s->oversample - 1) + sub / 2);
    printf("mean= %g rms= %g rmsd= %g\n", st.mean, st.rms, st.rmsd);
}

int main(int argc, char **argv)
{
    Args args;
    Sim sim;
    memset(&sim, 0, sizeof sim);
    for (int i = 1; i < argc; i++)
        if (is(argv[i], "-h") || is(argv[i], "--help") || is(argv[i], "-help")) { print_help(); return 0; }
    parse_args(argc, argv, &args);
    /* read the table before printing anything, so a bad file is a clean usage error */
    if (args.hklfile != NULL) load_hkl(args.hklfile, args.default_F, &sim);
    int interpolate = args.interpolate;
    if (interpolate < 0)
        interpolate = args.hklfile != NULL && (args.Na <= 2 || args.Nb <= 2 || args.Nc <= 2);
    if (interpolate) {
        usage_error(args.interpolate == 1 ? "-interpolate" : "-N",
                    "tricubic structure-factor interpolation (nanoBragg's default with -hkl and "
                    "any N <= 2) is not implemented in this twin; use N >= 3 or -nointerpolate");
    }

    printf("nanobragg_twin: the C twin of simkernel (double precision)\n");
    printf("mosflm convention selected.\n");
    build_detector(&args, &sim);
    printf("pivoting detector around direct beam spot\n");

    sim.lambda0 = args.lambda_A * 1e-10;
    sim.fluence = args.fluence;
    if (args.flux != 0.0 && args.exposure > 0.0 && args.beamsize_mm >= 0.0) {
        double beamsize = args.beamsize_mm * 1e-3;
        sim.fluence = args.flux * args.exposure / (beamsize * beamsize);
    }
    sim.polar_K = args.polar_K;
    sim.nopolar = args.nopolar;
    sim.default_F = args.default_F;

    if (args.interpolate < 0) printf("auto-selected no interpolation\n");

    build_crystal(&args, &sim);
    print_cell(&sim);

    double xtal_max = fmax(v_len(sim.a0) * sim.Na, fmax(v_len(sim.b0) * sim.Nb, v_len(sim.c0) * sim.Nc));
    double recip_pixel = sim.lambda0 * (args.distance_mm * 1e-3) / sim.pixel;
    int recommended = (int)ceil(3.0 * xtal_max / recip_pixel);
    if (recommended < 1) recommended = 1;
    if (args.oversample <= 0) {
        sim.oversample = recommended;
        printf("auto-selected %d-fold oversampling\n", recommended);
    } else {
        sim.oversample = args.oversample;
        if (sim.oversample < recommended)
            printf("WARNING: maximum recommended oversampling is %d\n", recommended);
    }

    for (int t = 0; t < sim.thicksteps; t++) printf("thick%d = %g um\n", t, t * sim.thickstep * 1e6);
    build_orientations(&args, &sim);
    build_sources(&args, &sim);
    printf("  created a total of %d mosaic domains\n", sim.domains);
    sim.steps = (double)sim.nsources * sim.domains * sim.phisteps * sim.oversample * sim.oversample;
    print_setup(&sim);

    long count = (long)sim.fpixels * sim.spixels;
    float *image = malloc(sizeof(float) * count);
    if (image == NULL) {
        fprintf(stderr, "%s: error: out of memory for a %dx%d image\n", program, sim.fpixels, sim.spixels);
        return 1;
    }
    render_image(&sim, image);
    if (args.have_trace) trace_pixel(&sim, args.trace_s, args.trace_f);
    Stats stats = image_statistics(&sim, image);

    int status = 0;
    printf("\n");
    if (args.floatfile != NULL) {
        printf("writing %s as %ld 4-byte floats\n", args.floatfile, count);
        if (write_floatfile(args.floatfile, image, count) != 0) {
            fprintf(stderr, "%s: error: -floatfile: cannot write %s\n", program, args.floatfile);
            status = 1;
        }
    }
    print_statistics(&sim, stats);
    if (args.intfile != NULL) {
        double scale = args.have_scale ? args.scale : (stats.max_I > 0 ? 55000.0 / stats.max_I : 1.0);
        printf("intfile_scale = %g\n", scale);
        printf("writing %s as 2-byte integers\n", args.intfile);
        if (write_smv(args.intfile, &sim, image, scale, args.adc) != 0) {
            fprintf(stderr, "%s: error: -intfile: cannot write %s\n", program, args.intfile);
            status = 1;
        }
    }
    free(image);
    free(sim.hkl);
    free(sim.src_pos); free(sim.incident); free(sim.src_lambda); free(sim.orient);
    return status;
}
