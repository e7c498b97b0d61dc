import { api, isMissingEndpoint, notAvailable } from "./console.js";
const box = document.getElementById("page-body");
const result = await api("GET", "/admin/coupon-templates");
if (isMissingEndpoint(result)) notAvailable(box, "GET /staff/v1/admin/coupon-templates");
