# Reference results for tests/test_interval.py, computed with R (survival, geepack).
#
# Run from the repository root:
#     Rscript tests/reference/interval.R [output folder, default tests/reference]
# It reads tests/reference/interval_data.csv (see interval_make_data.py) and writes
#   interval_turnbull_times.csv  survfit(Surv(L, R, type = "interval2")) read at 6, 12, 36 months,
#                                 overall and by x1 (summary.survfit)
#   interval_turnbull_curve.csv  the same fits' whole curves (time, survival as survfit returns them)
#   interval_npmle.csv           the Turnbull NPMLE by a separate, plainly coded self-consistency
#                                 EM run to convergence (survfit stops when the curve moves less
#                                 than 5e-5 between iterations, short of the NPMLE)
#   interval_person_periods.csv  person-periods per period (at risk, events)
#   interval_glm.csv             glm(event ~ 0 + factor(period) + x1 + x2, binomial("cloglog"))
#   interval_gee.csv             geepack::geeglm, same model, id = family_id, independence and
#                                 exchangeable working correlation, robust (sandwich) SEs
#   interval_versions.csv        R and package versions
suppressPackageStartupMessages({
  library(survival)
  library(geepack)
})

args <- commandArgs(trailingOnly = TRUE)
here <- "tests/reference"
out <- if (length(args) >= 1) args[1] else here
dir.create(out, showWarnings = FALSE, recursive = TRUE)
d <- read.csv(file.path(here, "interval_data.csv"))   # upper is "inf" when right-censored
stopifnot(all(d$upper >= d$lower), any(is.infinite(d$upper)))
times <- c(6, 12, 36)
save <- function(x, name) write.csv(x, file.path(out, name), row.names = FALSE)

# ---------------------------------------------------------------- Turnbull (survfit)
fit_all <- survfit(Surv(lower, upper, type = "interval2") ~ 1, data = d)
fit_x1 <- survfit(Surv(lower, upper, type = "interval2") ~ x1, data = d)
at <- function(fit, group) {
  s <- summary(fit, times = times)
  g <- if (is.null(s$strata)) rep(group, length(s$time)) else sub("^x1=", "", as.character(s$strata))
  data.frame(group = g, time = s$time, survival = s$surv)
}
curve <- function(fit, group) {
  g <- if (is.null(fit$strata)) rep(group, length(fit$time)) else
    rep(sub("^x1=", "", names(fit$strata)), fit$strata)
  data.frame(group = g, time = fit$time, survival = fit$surv)
}
save(rbind(at(fit_all, "all"), at(fit_x1, NA)), "interval_turnbull_times.csv")
save(rbind(curve(fit_all, "all"), curve(fit_x1, NA)), "interval_turnbull_curve.csv")

# ---------------------------------------------------------------- Turnbull (plain EM to convergence)
# Turnbull intervals with the (L, R] convention: sort the ends with, at equal times, exact
# points first, then right ends, then left ends; an interval is a left end followed by a right end.
npmle <- function(L, R, tol = 1e-12, maxit = 500000) {
  exact <- L == R
  ends <- data.frame(t = c(L, R), kind = c(ifelse(exact, 0, 2), rep(1, length(R))))
  ends <- ends[order(ends$t, ends$kind), ]
  n2 <- nrow(ends)
  j <- which(ends$kind[-n2] != 1 & ends$kind[-1] == 1)
  q <- ends$t[j]; p <- ends$t[j + 1]; point <- ends$kind[j] == 0
  # which intervals each (distinct) observation covers
  obs <- aggregate(list(w = rep(1, length(L))), by = list(L = L, R = R), FUN = sum)
  cover <- outer(seq_len(nrow(obs)), seq_along(q), function(i, k) {
    Li <- obs$L[i]; Ri <- obs$R[i]
    ifelse(Li == Ri, point[k] & q[k] == Li,
           ifelse(point[k], Li < q[k] & q[k] <= Ri, Li <= q[k] & p[k] <= Ri))
  })
  A <- matrix(as.numeric(cover), nrow = nrow(obs))
  stopifnot(all(rowSums(A) > 0))
  w <- obs$w; N <- sum(w)
  prob <- rep(1 / length(q), length(q))
  for (it in seq_len(maxit)) {
    den <- as.vector(A %*% prob)
    new <- prob * as.vector(crossprod(A, w / den)) / N
    if (max(abs(cumsum(new) - cumsum(prob))) < tol) { prob <- new; break }
    prob <- new
  }
  den <- as.vector(A %*% prob)
  d_j <- as.vector(crossprod(A, w / den)) / N
  data.frame(left = q, right = p, point = point, mass = prob,
             iterations = it, loglik = sum(w * log(den)), kkt = max(d_j) - 1)
}
em_all <- cbind(group = "all", npmle(d$lower, d$upper))
em_x1 <- do.call(rbind, lapply(split(d, d$x1), function(s) cbind(group = as.character(s$x1[1]), npmle(s$lower, s$upper))))
save(rbind(em_all, em_x1), "interval_npmle.csv")

# ---------------------------------------------------------------- person-periods
# Periods (0, 6], ..., (30, 36]; every contact time counts for its nearest break (halfway up);
# the event goes to the period ending at R's break, the child at risk through it; never seen
# away: at risk in the periods ending by L's break; seen away only after 36: at risk throughout.
breaks <- seq(0, 36, by = 6)
last <- length(breaks) - 1
edges <- c((head(breaks, -1) + tail(breaks, -1)) / 2, breaks[last + 1] + 3)
nearest <- function(t) findInterval(t, edges)           # 0-based index of the nearest break
event <- is.finite(d$upper)
k_event <- ifelse(event, nearest(ifelse(event, d$upper, 0)), 0)
k_alive <- nearest(d$lower)
seen <- event & k_event <= last
n_per <- ifelse(seen, pmax(k_event, 1), ifelse(event, last, pmin(k_alive, last)))
rows <- rep(seq_len(nrow(d)), n_per)
pp <- data.frame(family_id = d$family_id[rows], x1 = d$x1[rows], x2 = d$x2[rows],
                 period = sequence(n_per) - 1)
pp$event <- as.numeric(seen[rows] & pp$period == n_per[rows] - 1)
pp <- pp[order(pp$family_id), ]                          # geeglm wants clusters contiguous
counts <- aggregate(event ~ period, data = pp, FUN = function(e) c(at_risk = length(e), events = sum(e)))
save(data.frame(period = counts$period, at_risk = counts$event[, "at_risk"], events = counts$event[, "events"]),
     "interval_person_periods.csv")

# ---------------------------------------------------------------- cloglog GLM and GEE
form <- event ~ 0 + factor(period) + x1 + x2   # = factor(period) + x1 + x2, one coefficient per period
glm_fit <- glm(form, family = binomial(link = "cloglog"), data = pp,
               control = glm.control(epsilon = 1e-14, maxit = 100))
stopifnot(glm_fit$converged)
cf <- summary(glm_fit)$coefficients
save(data.frame(term = rownames(cf), coef = cf[, 1], se = cf[, 2]), "interval_glm.csv")

gee <- function(corstr) {
  g <- geeglm(form, family = binomial(link = "cloglog"), data = pp, id = family_id, corstr = corstr,
              control = geese.control(epsilon = 1e-12, maxit = 100))
  cf <- summary(g)$coefficients
  alpha <- if (corstr == "exchangeable") g$geese$alpha[[1]] else NA
  data.frame(corstr = corstr, term = rownames(cf), coef = cf[, "Estimate"], se = cf[, "Std.err"], alpha = alpha)
}
save(rbind(gee("independence"), gee("exchangeable")), "interval_gee.csv")

save(data.frame(what = c("R", "survival", "geepack"),
                version = c(as.character(getRversion()), as.character(packageVersion("survival")),
                            as.character(packageVersion("geepack")))), "interval_versions.csv")
