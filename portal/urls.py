from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path

from api.urls import api_urls, token_urls
from portal import language, views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", login_not_required(auth_views.LoginView.as_view(redirect_authenticated_user=True)), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("language/", language.set_language, name="set_language"),
    path("events/", views.event_stream, name="events"),
    path("vaults/<int:pk>/alerts/", include("alerts.urls")),
    path("vaults/", include("vaults.urls")),
    path("jobs/", include("jobs.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_urls)),
    path("account/tokens/", include(token_urls)),
    # /metrics and /healthz, where scrapers and load balancers look for them; no sign-in (monitoring/views.py).
    path("", include("monitoring.urls")),
]
