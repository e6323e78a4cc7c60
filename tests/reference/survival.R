# Reference values for tests/test_survival.py, computed by R's survival package on
# tests/reference/survival_data.csv (a time-to-event frame of the synthetic demo, origin =
# case opening; family ids replaced by integers).
#   Rscript tests/reference/survival.R   (from the project root) rewrites survival_*.csv
library(survival)
d <- read.csv("tests/reference/survival_data.csv")
times <- c(6, 12, 36)

fit <- survfit(Surv(time, event) ~ 1, data = d, conf.type = "log-log")
s <- summary(fit, times = times, extend = TRUE)
km <- data.frame(group = "all", time = s$time, survival = s$surv, ci_low = s$lower, ci_high = s$upper,
                 at_risk = s$n.risk)
fit2 <- survfit(Surv(time, event) ~ prior_removal, data = d, conf.type = "log-log")
s2 <- summary(fit2, times = times, extend = TRUE)
km2 <- data.frame(group = sub("prior_removal=", "", as.character(s2$strata)), time = s2$time, survival = s2$surv,
                  ci_low = s2$lower, ci_high = s2$upper, at_risk = s2$n.risk)
write.csv(rbind(km, km2), "tests/reference/survival_km.csv", row.names = FALSE)

rm <- summary(fit2, rmean = 36)$table
write.csv(data.frame(group = sub("prior_removal=", "", rownames(rm)), rmst = rm[, "rmean"], se = rm[, "se(rmean)"]),
          "tests/reference/survival_rmst.csv", row.names = FALSE)

lr <- survdiff(Surv(time, event) ~ prior_removal, data = d)
write.csv(data.frame(statistic = lr$chisq, p = pchisq(lr$chisq, df = 1, lower.tail = FALSE)),
          "tests/reference/survival_logrank.csv", row.names = FALSE)

cx <- coxph(Surv(time, event) ~ prior_removal + mental_illness + substance_use, data = d, ties = "efron",
            cluster = family)
write.csv(data.frame(term = names(coef(cx)), coef = unname(coef(cx)), se = sqrt(diag(vcov(cx))),
                     naive_se = sqrt(diag(cx$naive.var))),
          "tests/reference/survival_cox.csv", row.names = FALSE)
