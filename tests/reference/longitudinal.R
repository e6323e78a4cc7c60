# Reference values for tests/test_longitudinal.py (evalkit.longitudinal), computed by R's lme4, MASS, stats
# and sandwich on tests/reference/longitudinal_data.csv (one row per child x timepoint: the ЕФО overall score
# and level, covariates as 0/1) and longitudinal_pairs.csv (one row per child: the eight domain levels at
# intake and closure), both written by tests/test_longitudinal.py::make_reference_data from a synthetic
# population through evalkit's frames.
#   Rscript tests/reference/longitudinal.R            (from the project root) rewrites longitudinal_*.csv
#   Rscript tests/reference/longitudinal.R OUTDIR     writes them to OUTDIR instead (the regeneration test)
suppressPackageStartupMessages({library(lme4); library(MASS); library(sandwich)})
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args)) args[1] else "tests/reference"
wcsv <- function(x, name) write.csv(x, file.path(out, name), row.names = FALSE)
d <- read.csv("tests/reference/longitudinal_data.csv")
d$timepoint <- factor(d$timepoint, levels = c("intake", "closure", "followup"))
covs <- c("case_type_motivational", "case_type_palliative", "crisis_centre", "prior_removal",
          "parent_mental_illness", "parent_substance_use")
rhs <- paste(c("timepoint", covs), collapse = " + ")
term_names <- function(x) sub("^timepoint(.*)$", "timepoint[\\1]", sub("^\\(Intercept\\)$", "Intercept", x))

# --- linear mixed model: score ~ timepoint + covariates + (1 | family/child), REML and ML; lme4's default
# optimiser with tight tolerances so the optimum, not the stopping rule, is compared
ctrl <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhobeg = 0.2, rhoend = 1e-10, maxfun = 1e5))
fixef_rows <- list(); vc_rows <- list(); fit_rows <- list()
for (reml in c(TRUE, FALSE)) {
  m <- lmer(as.formula(paste("score ~", rhs, "+ (1 | family_id/child_id)")), data = d, REML = reml, control = ctrl)
  method <- if (reml) "REML" else "ML"
  cf <- summary(m)$coefficients
  fixef_rows[[method]] <- data.frame(method = method, term = term_names(rownames(cf)), estimate = cf[, 1],
                                     se = cf[, 2])
  vc <- as.data.frame(VarCorr(m))
  comp <- c("child_id:family_id" = "child", "family_id" = "family", "Residual" = "residual")[vc$grp]
  vc_rows[[method]] <- data.frame(method = method, component = unname(comp), variance = vc$vcov)
  fit_rows[[method]] <- data.frame(method = method, nobs = nobs(m), children = ngrps(m)[["child_id:family_id"]],
                                   families = ngrps(m)[["family_id"]], loglik = as.numeric(logLik(m)),
                                   singular = isSingular(m))
}
wcsv(do.call(rbind, fixef_rows), "longitudinal_fixef.csv")
wcsv(do.call(rbind, vc_rows), "longitudinal_varcomp.csv")
wcsv(do.call(rbind, fit_rows), "longitudinal_fit.csv")

# --- proportional odds (cumulative logit) on the overall level: the point estimates of evalkit's
# ordinal_model (its errors are clustered by family; polr's are not, so only the estimates are compared)
po <- polr(as.formula(paste("factor(level) ~", rhs)), data = d, method = "logistic", Hess = TRUE,
           control = list(reltol = 1e-12, maxit = 1000))
wcsv(data.frame(term = term_names(names(coef(po))), estimate = unname(coef(po))), "longitudinal_polr.csv")

# --- per domain, intake -> closure: Wilcoxon signed-rank (zeros dropped, normal approximation with the tie
# correction, no continuity correction), Holm across the eight domains, and the mean change with its
# family-clustered (CR1) standard error and a t interval on families - 1 degrees of freedom
p <- read.csv("tests/reference/longitudinal_pairs.csv")
domains <- sub("^intake_", "", grep("^intake_", names(p), value = TRUE))
rows <- lapply(domains, function(dom) {
  x <- p[[paste0("intake_", dom)]]; y <- p[[paste0("closure_", dom)]]
  ok <- !is.na(x) & !is.na(y)
  dd <- data.frame(diff = y[ok] - x[ok], family = p$family_id[ok])
  wt <- wilcox.test(y[ok], x[ok], paired = TRUE, exact = FALSE, correct = FALSE)
  fit <- lm(diff ~ 1, data = dd)
  se <- sqrt(vcovCL(fit, cluster = ~family, type = "HC1")[1, 1])
  g <- length(unique(dd$family))
  q <- qt(0.975, g - 1)
  data.frame(domain = dom, n = sum(ok), mean_change = coef(fit)[[1]], se_cluster = se,
             ci_low = coef(fit)[[1]] - q * se, ci_high = coef(fit)[[1]] + q * se, p_value = wt$p.value)
})
w <- do.call(rbind, rows)
w$p_holm <- p.adjust(w$p_value, method = "holm")
wcsv(w, "longitudinal_wilcoxon.csv")
