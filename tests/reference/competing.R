# Reference values for tests/test_competing.py (evalkit.competing), computed by R's survival and
# cmprsk packages on tests/reference/competing_data.csv (a synthetic competing-risks frame written
# by tests/test_competing.py::make_reference_data: one row per child, whole months, three causes).
#   Rscript tests/reference/competing.R            (from the project root) rewrites competing_*.csv
#   Rscript tests/reference/competing.R OUTDIR     writes them to OUTDIR instead (the regeneration test)
suppressPackageStartupMessages({library(survival); library(cmprsk)})
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args)) args[1] else "tests/reference"
d <- read.csv("tests/reference/competing_data.csv", colClasses = c(event = "character"))
causes <- c("removal", "voluntary_placement", "relinquishment")
d$ev <- factor(d$event, levels = c("0", causes))        # the first level is censoring
wcsv <- function(x, name) write.csv(x, file.path(out, name), row.names = FALSE)

# --- Aalen-Johansen (survfit on a multi-state Surv): the whole curves, standard errors (R's
# infinitesimal jackknife), log-scale 95% intervals; overall, by x1, and clustered by family
curves <- function(fit, label) {
  st <- sub("^\\(s0\\)$", "event_free", fit$states)
  strata <- if (is.null(fit$strata)) rep(label, length(fit$time)) else
    rep(sub("x1=", "", names(fit$strata)), fit$strata)
  do.call(rbind, lapply(seq_along(st), function(j) data.frame(
    fit = strata, state = st[j], time = fit$time, p = fit$pstate[, j], se = fit$std.err[, j],
    lower = fit$lower[, j], upper = fit$upper[, j])))
}
aj <- survfit(Surv(time, ev) ~ 1, data = d)
ajx <- survfit(Surv(time, ev) ~ x1, data = d)
# clustered by family: survival 3.5-3's multi-state survfit computes but does not use `cluster =` (its
# docurve2() gets `id`), so the family-clustered IJ variance is built as `cluster =` is documented to:
# the per-child influence (influence = TRUE) summed within family, then squared and summed.
aji <- survfit(Surv(time, ev) ~ 1, data = d, influence = TRUE)
ajc <- aji
for (j in seq_along(aji$states)) {
  ajc$std.err[, j] <- sqrt(colSums(rowsum(aji$influence.pstate[, -1, j], d$family)^2))
}
z <- qnorm(0.975)
ajc$lower <- ifelse(ajc$pstate == 0, NA, ajc$pstate * exp(-z * ajc$std.err / ajc$pstate))
ajc$upper <- ifelse(ajc$pstate == 0, NA, pmin(ajc$pstate * exp(z * ajc$std.err / ajc$pstate), 1))
stopifnot(max(abs(aji$std.err - aj$std.err)) < 1e-12)
wcsv(rbind(curves(aj, "all"), curves(ajx, NA), curves(ajc, "all_family")), "competing_cif.csv")

s <- summary(aj, times = c(6, 12, 36))
wcsv(do.call(rbind, lapply(seq_along(causes), function(j) data.frame(
  cause = causes[j], time = s$time, cif = s$pstate[, j + 1], se = s$std.err[, j + 1],
  lower = s$lower[, j + 1], upper = s$upper[, j + 1]))), "competing_cif_times.csv")

# --- Fine-Gray: finegray() expands the data (IPCW weights from the censoring distribution), then
# a weighted Cox model on the counting-process rows; robust errors by family and by child
fg <- list(); rows <- list(); cr <- list()
for (cause in causes[1:2]) {
  fgd <- finegray(Surv(time, ev) ~ ., data = d[, c("child", "family", "x1", "x2", "time", "ev")],
                  etype = cause)
  agg <- aggregate(fgwt ~ fgstart + fgstop + fgstatus, data = fgd,
                   FUN = function(w) c(rows = length(w), weight = sum(w)))
  rows[[cause]] <- data.frame(cause = cause, fgstart = agg$fgstart, fgstop = agg$fgstop,
                              fgstatus = agg$fgstatus, rows = agg$fgwt[, "rows"], weight = agg$fgwt[, "weight"])
  for (ties in c("breslow", "efron")) {
    for (cl in c("family", "child")) {
      fit <- coxph(Surv(fgstart, fgstop, fgstatus) ~ x1 + x2, data = fgd, weights = fgwt,
                   cluster = fgd[[cl]], ties = ties, control = coxph.control(eps = 1e-10, iter.max = 50))
      fg[[length(fg) + 1]] <- data.frame(
        cause = cause, ties = ties, cluster = cl, term = names(coef(fit)), coef = unname(coef(fit)),
        se = sqrt(diag(fit$naive.var)), robust_se = sqrt(diag(fit$var)), loglik = fit$loglik[2],
        n_rows = nrow(fgd))
    }
  }
  c1 <- crr(d$time, d$event, cov1 = as.matrix(d[, c("x1", "x2")]), failcode = cause, cencode = "0")
  cr[[cause]] <- data.frame(cause = cause, term = c("x1", "x2"), coef = unname(c1$coef),
                            se = sqrt(diag(c1$var)), converged = c1$converged)
}
wcsv(do.call(rbind, fg), "competing_finegray.csv")
wcsv(do.call(rbind, rows), "competing_fg_rows.csv")
wcsv(do.call(rbind, cr), "competing_crr.csv")
