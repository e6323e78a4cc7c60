# Reference values for tests/test_coxph.py (evalkit.coxph.fit_cox), computed by R's survival package.
#   Rscript tests/reference/coxph.R     (from the project root; R >= 4, survival >= 3.5)
# writes
#   coxph_data.csv   the data: 900 children in families of 1-5 (id), times in whole months
#                    (heavy ties, administrative censoring at 36), 5 covariates, a case weight
#                    w and an organisation org (the strata)
#   coxph_coef.csv   per variant and term: coef, se (model), robust_se (R's clustered or
#                    per-observation sandwich)
#   coxph_fit.csv    per variant: loglik_null, loglik, n, events
#   coxph_score.csv  score residuals (residuals(type = "score"), unweighted) of the variant
#                    "efron_weights_strata", one row per child in data order
# The data are generated here once and committed with the results, so the tests need no R.
library(survival)
set.seed(20261122)
out <- "tests/reference"

families <- 330
size <- sample(1:5, families, replace = TRUE, prob = c(0.3, 0.25, 0.2, 0.15, 0.1))
id <- rep(seq_len(families), size)
n <- length(id)
frailty <- rep(rnorm(families, sd = 0.6), size)
family_x <- rep(rnorm(families), size)
org <- rep(sample(c("A", "B", "C"), families, replace = TRUE, prob = c(0.5, 0.3, 0.2)), size)
d <- data.frame(
  id = id,
  x1 = rbinom(n, 1, 0.35),                       # prior removal
  x2 = rbinom(n, 1, 0.2),                        # a parent's illness
  x3 = round(rnorm(n), 3),                       # a continuous score
  x4 = rpois(n, 1.2),                            # a count
  x5 = round(family_x, 3),                       # a family-level covariate
  org = org
)
lp <- 0.7 * d$x1 + 0.5 * d$x2 - 0.3 * d$x3 + 0.15 * d$x4 + 0.25 * d$x5 + frailty +
  ifelse(d$org == "B", 0.4, ifelse(d$org == "C", -0.3, 0))
event_time <- rexp(n, rate = exp(lp) / 40)
censor_time <- runif(n, 2, 60)
t <- pmin(event_time, censor_time, 36)
d$event <- as.integer(event_time <= pmin(censor_time, 36))
d$time <- ceiling(t)                              # whole months: heavy ties
d$w <- round(runif(n, 0.5, 2), 3)
write.csv(d, file.path(out, "coxph_data.csv"), row.names = FALSE)

ctl <- coxph.control(eps = 1e-12, toler.chol = 1e-13, iter.max = 100)   # converged far past the default 1e-9
f <- Surv(time, event) ~ x1 + x2 + x3 + x4 + x5
variants <- list(
  efron = coxph(f, data = d, ties = "efron", cluster = id, control = ctl),
  breslow = coxph(f, data = d, ties = "breslow", cluster = id, control = ctl),
  efron_weights = coxph(f, data = d, ties = "efron", cluster = id, weights = w, control = ctl),
  efron_strata = coxph(update(f, . ~ . + strata(org)), data = d, ties = "efron", cluster = id, control = ctl),
  efron_weights_strata = coxph(update(f, . ~ . + strata(org)), data = d, ties = "efron", cluster = id,
                               weights = w, control = ctl),
  breslow_weights_strata = coxph(update(f, . ~ . + strata(org)), data = d, ties = "breslow", cluster = id,
                                 weights = w, control = ctl),
  efron_robust_rows = coxph(f, data = d, ties = "efron", robust = TRUE, control = ctl)
)
coef_rows <- do.call(rbind, lapply(names(variants), function(v) {
  m <- variants[[v]]
  data.frame(variant = v, term = names(coef(m)), coef = unname(coef(m)), se = sqrt(diag(m$naive.var)),
             robust_se = sqrt(diag(vcov(m))))
}))
fit_rows <- do.call(rbind, lapply(names(variants), function(v) {
  m <- variants[[v]]
  data.frame(variant = v, loglik_null = m$loglik[1], loglik = m$loglik[2], n = m$n, events = m$nevent,
             iterations = m$iter)
}))
write.csv(coef_rows, file.path(out, "coxph_coef.csv"), row.names = FALSE)
write.csv(fit_rows, file.path(out, "coxph_fit.csv"), row.names = FALSE)
sc <- residuals(variants$efron_weights_strata, type = "score")
write.csv(as.data.frame(sc), file.path(out, "coxph_score.csv"), row.names = FALSE)
options(digits = 17)
print(fit_rows)
cat("events:", sum(d$event), "of", n, "; distinct times:", length(unique(d$time)),
    "; largest tie:", max(table(d$time[d$event == 1])), "\n")
