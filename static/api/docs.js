// The API docs page: Swagger UI on the portal's schema. A signed-in session's unsafe requests carry the CSRF token;
// a token pasted in Authorize is sent as "Authorization: Bearer ...".
(function () {
  const body = document.body;
  SwaggerUIBundle({
    url: body.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,  // the default badge asks validator.swagger.io
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    requestInterceptor: (request) => {
      if (body.dataset.csrfToken) request.headers["X-CSRFToken"] = body.dataset.csrfToken;
      return request;
    },
  });
})();
