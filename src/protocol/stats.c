/* stats.c — the protocol's statistics in double: mean, sample standard deviation, the Student-t
 * distribution (through the regularised incomplete beta function) and t intervals of a mean and
 * of a paired difference. Checked against SciPy (tools/gen-stats-fixtures) and closed forms
 * (df = 1, 2) in tests/test_protocol.c. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include "tassl/protocol.h"

/* Continued fraction of I_x(a, b) (Numerical Recipes, 3rd ed., §6.4, "betacf"), evaluated with
 * the modified Lentz method. Converges quickly for x < (a + 1) / (a + b + 2). */
static double betacf(double a, double b, double x) {
    const double tiny = 1e-300, eps = 1e-16;
    double qab = a + b, qap = a + 1.0, qam = a - 1.0;
    double c = 1.0, d = 1.0 - qab * x / qap;
    if (fabs(d) < tiny) d = tiny;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= 100000; m++) {
        double m2 = 2.0 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1.0 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < eps) break;
    }
    return h;
}

/* Stirling's series of ln Γ(x) − [(x − ½) ln x − x + ½ ln 2π], x ≥ 50 (next term < 1e-19) */
static double stirling_tail(double x) {
    double r = 1.0 / x, r2 = r * r;
    return r * (1.0 / 12 - r2 * (1.0 / 360 - r2 * (1.0 / 1260 - r2 / 1680)));
}

/* ln Γ(a + b) − ln Γ(a) − ln Γ(b). lgamma's absolute error grows with its value (~1e-16 · a ln a),
 * which the t distribution's large a = df / 2 would pass on to every probability; for a large
 * argument the difference ln Γ(A + B) − ln Γ(A) is taken from Stirling's series instead, with the
 * cancelling terms written as (A − ½) log1p(B / A). */
static double lgamma_ratio(double a, double b) {
    double A = a > b ? a : b, B = a > b ? b : a;
    if (A < 50) return lgamma(a + b) - lgamma(a) - lgamma(b);
    double d =
        (A - 0.5) * log1p(B / A) + B * log(A + B) - B + stirling_tail(A + B) - stirling_tail(A);
    return d - lgamma(B);
}

/* I_x(a, b) with y = 1 − x given separately (exact where the caller can form it without
 * cancellation, as the t distribution's t² / (df + t²) near x = 1) */
static double betainc_xy(double a, double b, double x, double y) {
    if (x <= 0) return 0;
    if (y <= 0) return 1;
    /* x^a y^b / (a B(a, b)) in logs */
    double lx = x > 0.5 ? log1p(-y) : log(x), ly = y > 0.5 ? log1p(-x) : log(y);
    double lbt = lgamma_ratio(a, b) + a * lx + b * ly;
    if (x < (a + 1.0) / (a + b + 2.0)) return exp(lbt) * betacf(a, b, x) / a;
    return 1.0 - exp(lbt) * betacf(b, a, y) / b;
}

double tassl_stat_betainc(double a, double b, double x) {
    if (!(a > 0) || !(b > 0) || !(x >= 0) || !(x <= 1) || !isfinite(a) || !isfinite(b)) return NAN;
    return betainc_xy(a, b, x, 1.0 - x);
}

/* P(T > t) for t >= 0 */
static double t_upper(double t, double df) {
    double den = df + t * t;
    return 0.5 * betainc_xy(0.5 * df, 0.5, df / den, t * t / den);
}

double tassl_stat_t_cdf(double t, double df) {
    if (!(df > 0) || isnan(t)) return NAN;
    if (isinf(t)) return t > 0 ? 1.0 : 0.0;
    double u = t_upper(fabs(t), df);
    return t >= 0 ? 1.0 - u : u;
}

/* Standard normal quantile of a lower tail probability q in (0, 1): Acklam's rational
 * approximation (rel. error 1.15e-9) refined by one Halley step on erfc, which brings it to
 * ~1e-15. */
static double normal_quantile(double q) {
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    double x;
    if (q < 0.02425) {
        double t = sqrt(-2 * log(q));
        x = (((((c[0] * t + c[1]) * t + c[2]) * t + c[3]) * t + c[4]) * t + c[5]) /
            ((((d[0] * t + d[1]) * t + d[2]) * t + d[3]) * t + 1);
    } else if (q <= 1 - 0.02425) {
        double u = q - 0.5, r = u * u;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * u /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    } else {
        double t = sqrt(-2 * log1p(-q));
        x = -(((((c[0] * t + c[1]) * t + c[2]) * t + c[3]) * t + c[4]) * t + c[5]) /
            ((((d[0] * t + d[1]) * t + d[2]) * t + d[3]) * t + 1);
    }
    double e = 0.5 * erfc(-x / M_SQRT2) - q, u = e * sqrt(2 * M_PI) * exp(0.5 * x * x);
    return x - u / (1 + 0.5 * x * u);
}

double tassl_stat_t_quantile(double p, double df) {
    if (!(p > 0) || !(p < 1) || !(df > 0)) return NAN;
    if (p == 0.5) return 0;
    /* solve the tail P(T > t) = q on t >= 0; q = 1 - p is exact for p >= 0.5 (Sterbenz) */
    double q = p > 0.5 ? 1.0 - p : p, sign = p > 0.5 ? 1.0 : -1.0;
    if (df == 1) return sign * tan(M_PI * (0.5 - q));
    if (df == 2) return sign * (1.0 - 2.0 * q) / sqrt(2.0 * q * (1.0 - q));
    if (df > 1e4) {
        /* lgamma(df/2) ~ 1e4·ln(df) loses digits in the incomplete beta's prefactor: use the
         * Cornish-Fisher expansion around the normal quantile (Abramowitz & Stegun 26.7.5), whose
         * error O(df^-5) is below double precision here */
        double z = -normal_quantile(q), z2 = z * z;
        double g1 = (z2 + 1) * z / 4, g2 = ((5 * z2 + 16) * z2 + 3) * z / 96;
        double g3 = (((3 * z2 + 19) * z2 + 17) * z2 - 15) * z / 384;
        double g4 = ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) * z / 92160;
        return sign * (z + (g1 + (g2 + (g3 + g4 / df) / df) / df) / df);
    }
    double lo = 0, hi = 1;
    while (t_upper(hi, df) > q) {
        lo = hi;
        hi *= 2;
        if (hi > 1e300) return sign * INFINITY;
    }
    for (int it = 0; it < 2000; it++) {
        double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi) break; /* adjacent doubles */
        if (t_upper(mid, df) > q)
            lo = mid;
        else
            hi = mid;
        if (hi - lo <= 4 * DBL_EPSILON * hi) break;
    }
    return sign * 0.5 * (lo + hi);
}

double tassl_stat_mean(const double *x, int n) {
    double s = 0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) s += x[i], k++;
    return k ? s / k : NAN;
}

double tassl_stat_std(const double *x, int n) {
    double m = tassl_stat_mean(x, n), ss = 0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) ss += (x[i] - m) * (x[i] - m), k++;
    return k >= 2 ? sqrt(ss / (k - 1)) : NAN;
}

tassl_stat_summary tassl_stat_summarise(const double *x, int n, double level) {
    tassl_stat_summary s = {0, NAN, NAN, NAN, NAN};
    for (int i = 0; i < n; i++)
        s.n += isfinite(x[i]) != 0;
    if (!s.n) return s;
    s.mean = tassl_stat_mean(x, n);
    s.std = tassl_stat_std(x, n);
    if (s.n == 1 || s.std == 0) {
        s.ci_lo = s.ci_hi = s.mean;
        return s;
    }
    double h = tassl_stat_t_quantile(0.5 * (1.0 + level), s.n - 1) * s.std / sqrt((double)s.n);
    s.ci_lo = s.mean - h;
    s.ci_hi = s.mean + h;
    return s;
}

tassl_stat_summary tassl_stat_paired(const double *a, const double *b, int n, double level) {
    double *d = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    if (!d) return (tassl_stat_summary){0, NAN, NAN, NAN, NAN};
    for (int i = 0; i < n; i++)
        d[i] = isfinite(a[i]) && isfinite(b[i]) ? a[i] - b[i] : NAN;
    tassl_stat_summary s = tassl_stat_summarise(d, n, level);
    free(d);
    return s;
}
